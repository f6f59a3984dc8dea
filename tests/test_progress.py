"""Progress lines: rate and ETA are right, lines are throttled, and the mode follows where the code runs."""

import pytest

from rmr1lib.progress import PROGRESS_ENV, ProgressLine, format_duration, format_rate, progress_mode


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_durations_and_rates_read_well():
    assert [format_duration(s) for s in (0, 44.6, 61, 3599, 3725)] == ["0 s", "45 s", "1 min 01 s", "59 min 59 s",
                                                                      "1 h 02 min"]
    assert format_rate(10, 4) == "2.5 steps/s" and format_rate(4, 10) == "2.5 s/step"
    assert format_rate(0, 5) == "" and format_rate(3, 0) == ""


def test_lines_are_throttled_and_carry_rate_and_eta():
    clock = Clock()
    line = ProgressLine("SFT step", total=100, interval=20, clock=clock)
    printed = []
    for step in range(1, 101):
        clock.now += 0.5  # two steps a second
        text = line.update(step, extra="loss 1.0")
        if text:
            printed.append(text)
    # the first step, then one line per 20 s (every 40 steps), and the last step
    assert len(printed) == 4 and line.lines == 4
    assert printed[0] == "SFT step 1/100 (1%), loss 1.0"  # nothing measured yet
    assert printed[1] == "SFT step 41/100 (41%), 2.0 steps/s, ETA 30 s, loss 1.0"
    assert printed[-1] == "SFT step 100/100 (100%), 2.0 steps/s, took 50 s, loss 1.0"


def test_a_resumed_job_counts_only_its_own_steps():
    clock = Clock()
    line = ProgressLine("GRPO step", total=12, interval=0, clock=clock)
    line.begin(6)  # resumed at step 6
    clock.now += 30
    assert line.update(8) == "GRPO step 8/12 (67%), 15.0 s/step, ETA 1 min 00 s"


def test_without_a_total_there_is_no_eta():
    clock = Clock()
    line = ProgressLine("cell", clock=clock)
    line.update(0)
    clock.now += 10
    assert line.text(5) == "cell 5, 2.0 s/step"


@pytest.mark.parametrize("env, kernel, expected", [
    ("lines", True, "lines"), ("off", False, "off"), ("", True, "bar"), ("", False, "lines"),
    ("nonsense", False, "lines"),
])
def test_mode_follows_the_environment(monkeypatch, env, kernel, expected):
    import sys

    monkeypatch.setenv(PROGRESS_ENV, env)
    if kernel:
        monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel") or object())
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert progress_mode() == expected


def test_step_progress_prints_a_due_line_with_the_steps_own_numbers():
    """The trainer callback waits for the step's log entry when the trainer is about to log it."""
    from types import SimpleNamespace

    from rmr1lib.engine import StepProgress

    printed = []
    cb = StepProgress("GRPO step", printed.append, show={"reward": "reward", "kl": "kl"}, interval=0, mode="lines")
    state = SimpleNamespace(global_step=0, max_steps=2)
    cb.on_train_begin(None, state, None)
    for step, reward in ((1, -1.0), (2, 0.5)):
        state.global_step = step
        cb.on_step_end(None, state, SimpleNamespace(should_log=True))
        assert len(printed) == step - 1  # not yet: the step's numbers come with its log entry
        cb.on_log(None, state, None, logs={"reward": reward, "kl": 0.001, "loss": 3.0})
    assert printed[0].startswith("GRPO step 1/2 (50%), ") and printed[0].endswith("reward -1, kl 0.001")
    assert printed[1].startswith("GRPO step 2/2 (100%), ") and printed[1].endswith("reward 0.5, kl 0.001")
    cb.on_train_end(None, state, None)
