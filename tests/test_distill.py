"""Teacher traces and the two-pass recipe: oracle, resumable store, the API teacher over real local HTTP."""

import json
import os
import pickle
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rmr1lib import distill
from rmr1lib.distill import (
    OpenAIChatTeacher, OracleTeacher, Teacher, TeacherError, TeacherReply, TraceStore, collect_traces, hint_messages,
    load_released_traces, make_teacher, run_two_pass, sample_for_teacher, summary_rows, teacher_messages,
    trace_verdict,
)
from rmr1lib.errors import ConfigError, DataError, RmR1Error
from rmr1lib.parsing import parse_verdict
from rmr1lib.profiles import load_profile
from rmr1lib.files import atomic_write_json, atomic_write_jsonl, read_jsonl
from rmr1lib.synthetic import make_pairs, oracle_trace

SECRET = "sk-test-DO-NOT-LEAK-7f3a9c"


@pytest.fixture(scope="module")
def rows():
    return make_pairs(40, seed=11)


def side(row):
    return "A" if row["winner"] == "model_a" else "B"


class CountingTeacher(Teacher):
    """Wraps a teacher, records every pair id asked, and can 'crash' after a number of replies."""

    def __init__(self, inner, crash_after=None):
        super().__init__()
        self.inner, self.crash_after, self.asked = inner, crash_after, []
        self.batch_size = 1

    def describe(self):
        return self.inner.describe()

    def _complete_batch(self, jobs):
        if self.crash_after is not None and len(self.asked) >= self.crash_after:
            raise KeyboardInterrupt("simulated interruption")
        self.asked += [(j.pair_id, j.pass_no) for j in jobs]
        return self.inner._complete_batch(jobs)


# ---------------------------------------------------------------------------------------------------------
# the oracle and the two-pass recipe


def test_two_pass_keeps_only_right_traces_and_recovers_wrong_ones(rows, tmp_path):
    teacher = OracleTeacher("instruct_cor", error_rate=0.3, seed=5)
    report = run_two_pass(rows, teacher, tmp_path / "store.jsonl", window=100)
    s = report.stats
    wrong_first = [r for r in rows if teacher.makes_mistake(r["id"])]
    assert 3 <= len(wrong_first) <= 21  # 40 draws at 0.3, far outside this range is a broken seed/draw
    assert s["pairs"] == 40 and s["pass1_correct"] == 40 - len(wrong_first)
    assert s["pass2_asked"] == len(wrong_first) and s["pass2_correct"] == len(wrong_first)
    assert s["kept"] == 40 and s["dropped"] == 0 and s["pass2_recovery"] == 1.0
    table = dict(summary_rows(report))
    assert table["pass 1: accuracy"] == round((40 - len(wrong_first)) / 40, 3)
    assert table["pass 2: re-asked with the hint"] == len(wrong_first) and table["dropped: request failed"] == 0
    by_id = {r["id"]: r for r in rows}
    for rec in report.records:
        text = rec["completion"][0]["content"]
        # checked independently of the module: the exact tag of the right side in the last 100 characters
        assert f"<answer>[[{side(by_id[rec['id']])}]]</answer>" in text[-100:]
        assert rec["pass"] == (2 if rec["id"] in {r["id"] for r in wrong_first} else 1)
        assert rec["prompt"][0]["role"] == "system" and "Reviewer's note" not in rec["prompt"][-1]["content"]
    for a in report.attempts:
        if a["pass"] == 1 and not a["correct"]:
            other = "B" if side(by_id[a["pair_id"]]) == "A" else "A"
            assert parse_verdict(a["text"], "strict", 100) == other


def test_oracle_mistakes_are_seeded(rows, tmp_path):
    a = run_two_pass(rows, OracleTeacher(error_rate=0.5, seed=1), tmp_path / "a.jsonl").attempts
    b = run_two_pass(rows, OracleTeacher(error_rate=0.5, seed=1), tmp_path / "b.jsonl").attempts
    c = run_two_pass(rows, OracleTeacher(error_rate=0.5, seed=2), tmp_path / "c.jsonl").attempts
    first = lambda att: [x["correct"] for x in att if x["pass"] == 1]  # noqa: E731
    assert first(a) == first(b) and first(a) != first(c)


def test_error_rate_extremes_and_second_pass_off(rows, tmp_path):
    none_wrong = run_two_pass(rows[:10], OracleTeacher(error_rate=0.0), tmp_path / "0.jsonl").stats
    assert none_wrong["pass1_accuracy"] == 1.0 and none_wrong["pass2_asked"] == 0
    all_wrong = run_two_pass(rows[:10], OracleTeacher(error_rate=1.0), tmp_path / "1.jsonl", second_pass=False)
    assert all_wrong.stats["pass1_correct"] == 0 and all_wrong.records == []
    assert all_wrong.stats["drop_reasons"]["wrong_no_pass2"] == 10


def test_progress_is_a_few_lines_per_pass_with_counts(rows, tmp_path):
    lines = []
    report = run_two_pass(rows, OracleTeacher(error_rate=0.3, seed=5), tmp_path / "p.jsonl", progress=lines.append)
    asked2 = report.stats["pass2_asked"]
    # 40 fast replies: the first and the last of each pass, not one line per reply
    assert [line.split(",")[0] for line in lines] == [
        "teacher pass 1 1/40 (2%)", "teacher pass 1 40/40 (100%)",
        f"teacher pass 2 1/{asked2} ({100 / asked2:.0f}%)", f"teacher pass 2 {asked2}/{asked2} (100%)"]
    assert "traces/s" in lines[1] and "took" in lines[1]


def test_pass_two_prompt_carries_verdict_and_wrong_trace(rows, tmp_path):
    seen = []

    class Spy(OracleTeacher):
        def _complete_batch(self, jobs):
            seen.extend(j for j in jobs if j.pass_no == 2)
            return super()._complete_batch(jobs)

    run_two_pass(rows[:6], Spy(error_rate=1.0), tmp_path / "s.jsonl")
    assert len(seen) == 6
    for job in seen:
        note = job.messages[-1]["content"]
        right = side(job.row)
        wrong_trace = oracle_trace(job.row, mistaken=True)
        assert parse_verdict(wrong_trace, "strict") != right
        assert f"Chatbot {right} gave the better response" in note and wrong_trace.strip() in note
        assert job.messages[0] == teacher_messages(job.row, "instruct_cor")[0]  # system prompt untouched


def test_hint_messages_do_not_mutate_and_handle_missing_trace(rows):
    msgs = teacher_messages(rows[0], "instruct_cor")
    before = json.dumps(msgs)
    out = hint_messages(msgs, "model_b", None)
    assert json.dumps(msgs) == before and len(out) == len(msgs)
    assert "earlier judgement" not in out[-1]["content"] and "<answer>[[B]]</answer>" in out[-1]["content"]
    with pytest.raises(DataError):
        hint_messages(msgs, "C", "x")


def test_trace_verdict_window():
    tag = "<answer>[[A]]</answer>"
    assert trace_verdict("x" * 500 + tag) == "A"
    assert trace_verdict(tag + "y" * 90, window=100) is None  # the tag is no longer inside the last 100 chars
    assert trace_verdict(tag + "y" * 70, window=100) == "A"
    assert trace_verdict(None) is None


def test_sampling_is_seeded_ordered_and_capped():
    rows = [{"id": f"r{i}"} for i in range(100)]
    s = sample_for_teacher(rows, 0.12, seed=3)
    assert len(s) == 12 and s == sorted(s, key=lambda r: int(r["id"][1:]))
    assert s == sample_for_teacher(rows, 0.12, seed=3) and s != sample_for_teacher(rows, 0.12, seed=4)
    assert len(sample_for_teacher(rows, 1.0, max_pairs=7, seed=3)) == 7
    assert sample_for_teacher(rows, 1.0) == rows and sample_for_teacher([], 0.5) == []
    with pytest.raises(ConfigError, match="sample_fraction"):
        sample_for_teacher(rows, 0.0)


def test_bad_rows_are_named(rows, tmp_path):
    with pytest.raises(DataError, match="appears twice"):
        run_two_pass([rows[0], rows[0]], OracleTeacher(), tmp_path / "d.jsonl")
    with pytest.raises(DataError, match="row 1"):
        run_two_pass([rows[0], {**rows[1], "winner": "tie"}], OracleTeacher(), tmp_path / "e.jsonl")
    with pytest.raises(DataError, match="context_messages"):
        teacher_messages({"id": "x", "winner": "model_a"}, "instruct_cor")


# ---------------------------------------------------------------------------------------------------------
# resumable store


def test_interrupted_run_resumes_without_regenerating(rows, tmp_path):
    store = tmp_path / "store.jsonl"
    first = CountingTeacher(OracleTeacher(error_rate=0.3, seed=5), crash_after=17)
    with pytest.raises(KeyboardInterrupt):
        run_two_pass(rows, first, store)
    assert len(first.asked) == 17 and len(read_jsonl(store)) == 17
    second = CountingTeacher(OracleTeacher(error_rate=0.3, seed=5))
    report = run_two_pass(rows, second, store)
    assert not set(first.asked) & set(second.asked)  # nothing finished was asked again
    n_wrong = report.stats["pass2_asked"]
    assert len(second.asked) == (40 - 17) + n_wrong
    assert report.stats["requests_this_run"] == {"pass1": 23, "pass2": n_wrong}
    # the result is the same as an uninterrupted run's
    clean = run_two_pass(rows, OracleTeacher(error_rate=0.3, seed=5), tmp_path / "clean.jsonl")
    assert [r["completion"] for r in report.records] == [r["completion"] for r in clean.records]
    third = CountingTeacher(OracleTeacher(error_rate=0.3, seed=5))
    assert run_two_pass(rows, third, store).stats["kept"] == 40 and third.asked == []


def test_store_repairs_a_torn_last_line(tmp_path):
    path = tmp_path / "s.jsonl"
    store = TraceStore(path)
    store.append({"pair_id": "a", "pass": 1, "status": "ok", "text": "t"})
    with open(path, "a") as fh:
        fh.write('{"pair_id": "b", "pass": 1, "sta')  # a crash in the middle of an append
    again = TraceStore(path)
    assert again.repaired_bytes > 0 and len(again) == 1 and again.get("a", 1)["text"] == "t"
    again.append({"pair_id": "b", "pass": 1, "status": "ok", "text": "u"})
    assert [r["pair_id"] for r in read_jsonl(path)] == ["a", "b"]
    path.write_text('{"pair_id": "a"}\nnot json\n')
    with pytest.raises(DataError, match="line 1"):
        TraceStore(path)


class ScriptedTeacher(Teacher):
    """First-pass replies from a script by pair id: 'ok' (right trace), 'bad', 'fail'; pass 2 always right."""

    name = "scripted"

    def __init__(self, plan):
        super().__init__()
        self.plan, self.asked = plan, []

    def _complete_batch(self, jobs):
        out = []
        for j in jobs:
            self.asked.append(j.pair_id)
            what = self.plan.get(j.pair_id, "ok") if j.pass_no == 1 else "ok"
            out.append(TeacherReply(oracle_trace(j.row)) if what == "ok" else
                       TeacherReply("garbage", "bad_response", "not a chat completion") if what == "bad" else
                       TeacherReply(None, "failed", "gave up after 3 attempts"))
        return out


def test_bad_reply_is_recorded_and_kept_failed_request_is_retried(rows, tmp_path):
    store = tmp_path / "s.jsonl"
    plan = {rows[0]["id"]: "bad", rows[1]["id"]: "fail"}
    report = run_two_pass(rows[:5], ScriptedTeacher(plan), store)
    s = report.stats
    assert s["kept"] == 4 and s["drop_reasons"]["request_failed"] == 1
    # the unusable (paid-for) reply went to pass 2 with no trace to quote, which recovered it
    assert s["pass2_asked"] == 1 and s["pass1_replies"] == 4
    again = ScriptedTeacher({})
    report2 = run_two_pass(rows[:5], again, store)
    assert again.asked == [rows[1]["id"]] and report2.stats["kept"] == 5


# ---------------------------------------------------------------------------------------------------------
# the API teacher against a local OpenAI-compatible server (real HTTP on 127.0.0.1)


class FakeAPI:
    """A chat-completions server: scripted failures first, then a trace whose verdict follows any hint."""

    def __init__(self):
        self.script, self.requests, self.lock = [], [], threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with api.lock:
                    api.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                    step = api.script.pop(0) if api.script else None
                if step is None:
                    note = body["messages"][-1]["content"]
                    verdict = "B" if "Chatbot B gave the better response" in note else "A"
                    payload = json.dumps({"choices": [{"message": {"role": "assistant", "content":
                                          f"<type>Chat</type> reasoning... <answer>[[{verdict}]]</answer>"},
                                          "finish_reason": "stop"}], "usage": {"completion_tokens": 9}})
                    status, headers = 200, {}
                else:
                    status, payload, headers = step
                    payload = payload.replace("{AUTH}", self.headers.get("Authorization", ""))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                data = payload.encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(monkeypatch):
    server = FakeAPI()
    monkeypatch.setenv(distill.ENV_API_KEY, SECRET)
    monkeypatch.setenv(distill.ENV_BASE_URL, server.url)
    monkeypatch.setenv(distill.ENV_MODEL, "fake-teacher-1")
    yield server
    server.close()


def api_teacher(**kw):
    sleeps = []
    kw = {"timeout": 5.0, "backoff": 0.01, "max_backoff": 0.05, "max_retries": 3, "sleep": sleeps.append, **kw}
    t = OpenAIChatTeacher(**kw)
    t.sleeps = sleeps
    return t


def all_text_under(folder):
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_api_teacher_retries_then_records_bad_replies_and_never_leaks_the_key(api, rows, tmp_path):
    pairs = rows[:6]
    api.script = [
        (429, '{"error": "slow down"}', {"Retry-After": "0"}),
        (503, "upstream busy; you sent {AUTH}", {}),           # a server that echoes the key back
        (200, "this is not json {AUTH}", {}),                  # bad reply for the first pair, after 2 retries
        (500, "boom", {}), (502, "boom", {}), (504, "boom", {}), (500, "boom {AUTH}", {}),  # second pair gives up
    ]
    teacher = api_teacher()
    report = run_two_pass(pairs, teacher, tmp_path / "out" / "store.jsonl")
    assert all(r["auth"] == f"Bearer {SECRET}" for r in api.requests)
    assert all(r["path"] == "/v1/chat/completions" and r["body"]["model"] == "fake-teacher-1" for r in api.requests)
    got = {(a["pair_id"], a["pass"]): a for a in report.attempts}
    first, second = got[(pairs[0]["id"], 1)], got[(pairs[1]["id"], 1)]
    assert first["status"] == "bad_response" and first["attempts"] == 3
    assert second["status"] == "failed" and second["attempts"] == 4 and "gave up" in second["error"]
    assert teacher.sleeps[0] == 0.0 and all(0 < d <= 0.05 for d in teacher.sleeps[1:])
    assert report.stats["drop_reasons"]["request_failed"] == 1
    # the fake answers A unless the hint says B: pass 2 recovers every B pair that got a reply
    n_b = sum(side(r) == "B" for r in pairs[2:])
    assert report.stats["pass1_correct"] == len(pairs[2:]) - n_b and report.stats["pass2_correct"] >= n_b
    atomic_write_jsonl(tmp_path / "out" / "traces.jsonl", report.records)
    atomic_write_json(tmp_path / "out" / "summary.json", distill.report_summary(report))
    saved = all_text_under(tmp_path / "out")
    assert "not json" in saved and "[redacted key]" in saved  # the bad reply is on record, the key is not
    assert SECRET not in saved
    assert SECRET not in repr(teacher) and SECRET not in json.dumps(teacher.describe())
    assert teacher.describe()["key"] == "set"
    with pytest.raises(TypeError):
        pickle.dumps(teacher)
    # a rerun asks only for the pair whose request failed (the bad reply was paid for)
    n_before = len(api.requests)
    report2 = run_two_pass(pairs, api_teacher(), tmp_path / "out" / "store.jsonl")
    asked = api.requests[n_before:]
    assert report2.stats["requests_this_run"]["pass1"] == 1
    assert len(asked) == 1 + report2.stats["requests_this_run"]["pass2"]


def test_api_teacher_stops_on_a_refused_key_without_showing_it(api, rows, tmp_path):
    api.script = [(401, '{"error": "bad key %s"}' % SECRET, {})]
    with pytest.raises(TeacherError) as info:
        run_two_pass(rows[:3], api_teacher(), tmp_path / "s.jsonl")
    assert "401" in str(info.value) and distill.ENV_API_KEY in str(info.value) and SECRET not in str(info.value)
    tb, frames = info.value.__traceback__, []
    while tb is not None:  # what a traceback printed with local variables (pytest -l, %xmode verbose) would show
        frames.append(repr(tb.tb_frame.f_locals))
        tb = tb.tb_next
    assert any("Authorization" in f for f in frames) and not any(SECRET in f for f in frames)
    assert not (tmp_path / "s.jsonl").exists() or SECRET not in (tmp_path / "s.jsonl").read_text()


def test_api_teacher_concurrent_workers_and_unreachable_endpoint(api, rows, tmp_path, monkeypatch):
    report = run_two_pass(rows[:8], api_teacher(workers=3), tmp_path / "w.jsonl")
    assert report.stats["kept"] == 8 and len({a["pair_id"] for a in report.attempts if a["pass"] == 1}) == 8
    monkeypatch.setenv(distill.ENV_BASE_URL, "http://127.0.0.1:9/v1")  # nothing listens on the discard port
    t = api_teacher(max_retries=1, timeout=2.0)
    out = run_two_pass(rows[:1], t, tmp_path / "u.jsonl")
    assert out.attempts[0]["status"] == "failed" and "127.0.0.1:9" in out.attempts[0]["error"]


def test_api_teacher_configuration_errors(monkeypatch):
    monkeypatch.delenv(distill.ENV_MODEL, raising=False)
    with pytest.raises(ConfigError, match=distill.ENV_MODEL):
        OpenAIChatTeacher()
    monkeypatch.setenv(distill.ENV_BASE_URL, "ftp://example")
    with pytest.raises(ConfigError, match="http"):
        OpenAIChatTeacher("m")
    monkeypatch.setenv(distill.ENV_BASE_URL, "https://user:pw@example.org/v1")
    monkeypatch.delenv(distill.ENV_API_KEY, raising=False)
    t = OpenAIChatTeacher("m")
    assert "pw" not in repr(t) and t.describe()["key"] == "not set"


# ---------------------------------------------------------------------------------------------------------
# profiles, the released traces


def test_make_teacher_follows_the_profile(monkeypatch, rows, tmp_path):
    smoke = load_profile("smoke")
    first, second = make_teacher(smoke), make_teacher(smoke, second_pass=True)
    assert isinstance(first, OracleTeacher) and first.error_rate == smoke.distill.oracle_error_rate > 0
    assert second.error_rate == 0.0
    monkeypatch.delenv(distill.ENV_MODEL, raising=False)
    with pytest.raises(ConfigError, match="model name"):
        make_teacher(load_profile("smoke", {"distill.teacher": "openai"}))
    monkeypatch.setenv(distill.ENV_MODEL, "m1")
    monkeypatch.setenv(distill.ENV_SECOND_MODEL, "m2")
    monkeypatch.setenv(distill.ENV_API_KEY, SECRET)
    prof = load_profile("smoke", {"distill.teacher": "openai"})
    assert make_teacher(prof).model == "m1" and make_teacher(prof, second_pass=True).model == "m2"
    with pytest.raises(ConfigError, match="load_released_traces"):
        make_teacher(load_profile("single_gpu"))
    report = collect_traces(smoke, rows[:12], tmp_path / "c.jsonl")
    assert report.stats["pairs"] == 12 and report.stats["kept"] == 12
    assert collect_traces(smoke, rows[:12], tmp_path / "c.jsonl").stats["requests_this_run"] == {"pass1": 0,
                                                                                                   "pass2": 0}


def released_rows(rows):
    """Rows in the Distill-SFT schema: the judge prompt, the trace in `winner`, the label in `ground_truth`."""
    good = [{"context_messages": teacher_messages(r, "instruct_cor"), "winner": oracle_trace(r),
             "ground_truth": r["winner"]} for r in rows[:4]]
    flipped = {"context_messages": teacher_messages(rows[5], "instruct_cor"), "winner": oracle_trace(rows[5]),
               "ground_truth": "model_b" if rows[5]["winner"] == "model_a" else "model_a"}
    bad = [{"context_messages": "not a list", "winner": oracle_trace(rows[6])},
           {"context_messages": teacher_messages(rows[4], "instruct_cor"), "winner": "  "},
           {"context_messages": teacher_messages(rows[7], "instruct_cor"), "winner": "a trace with no verdict"}]
    return good + [flipped] + bad


def test_released_traces_load_from_a_local_file_drop_bad_rows_and_check_labels(rows, tmp_path):
    path = tmp_path / "distill_sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in released_rows(rows)))
    records, stats = load_released_traces(str(path))
    assert stats["rows"] == 8 and stats["kept"] == 5 and stats["malformed"] == 3
    assert {r["reason"] for r in stats["malformed_reasons"]} >= {"bad_label"}
    assert stats["with_label"] == 5 and stats["verdict_agrees_with_label"] == pytest.approx(4 / 5)
    assert all(r["completion"][0]["role"] == "assistant" and r["prompt"][-1]["role"] == "user" for r in records)
    assert records[0]["completion"][0]["content"] == oracle_trace(rows[0])
    assert len(load_released_traces(str(path), limit=3)[0]) == 3
    (tmp_path / "x.csv").write_text("a")
    with pytest.raises(ConfigError, match="jsonl"):
        load_released_traces(str(tmp_path / "x.csv"))
    prof = load_profile("smoke", {"distill.teacher": "released", "distill.released_source": str(path),
                                  "judge.mixed_prompts": True})
    report = collect_traces(prof, [], tmp_path / "unused.jsonl")
    assert report.stats["kept"] == 5 and report.teacher["pass1"]["teacher"] == "released"
    assert not (tmp_path / "unused.jsonl").exists()


def test_released_traces_from_the_hub_fail_clearly_offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RmR1Error, match="RM-R1-Distill-SFT"):
        load_released_traces()


@pytest.mark.slow
def test_local_model_teacher_runs_through_vllm(rows, tmp_path):
    from rmr1lib.prompts import system_prompt
    from rmr1lib.synthetic import corpus_for_tokenizer
    from rmr1lib.tinymodel import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny", corpus_for_tokenizer(rows) + [system_prompt("instruct_cor")], seed=1)
    teacher = distill.LocalModelTeacher(str(model), max_tokens=12, engine={"max_model_len": 4096, "batch_size": 8})
    try:
        report = run_two_pass(rows[:4], teacher, tmp_path / "v.jsonl")
    finally:
        teacher.close()
    # an untrained model writes noise: every reply is recorded, nothing reaches a verdict, so all is dropped
    assert teacher.calls == 8 and len(report.attempts) == 8
    assert report.stats["kept"] == 0 and report.stats["dropped"] == 4
    assert all(a["teacher"]["backend"] == "vllm" for a in report.attempts)
    assert os.path.getsize(tmp_path / "v.jsonl") > 0
