"""Generation back-ends on the offline tiny model: vLLM (CPU) and transformers agree greedily; judging metrics."""

import pytest

from rmr1lib.errors import ConfigError
from rmr1lib.generation import SamplingSettings, TransformersGenerator, load_generator
from rmr1lib.judging import judge_messages, judge_pairs, score_judgement, verdict_metrics
from rmr1lib.prompts import system_prompt
from rmr1lib.synthetic import corpus_for_tokenizer, make_pairs, oracle_trace
from rmr1lib.tinymodel import build_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rows = make_pairs(96, seed=3)
    corpus = corpus_for_tokenizer(rows) + [system_prompt("instruct_cor")]
    path = build_tiny_model(tmp_path_factory.mktemp("m") / "tiny", corpus, seed=3)
    return str(path), rows


def test_vllm_and_transformers_agree_greedily(tiny):
    path, rows = tiny
    prompts = judge_messages(rows[:12], "instruct_cor") + [[{"role": "user", "content": f"Count to {i}"}]
                                                           for i in range(4)]
    settings = SamplingSettings(max_new_tokens=24, temperature=0.0, seed=0)
    hf = load_generator(path, "transformers", batch_size=8)
    hf_texts = hf.generate(prompts, settings)
    vl = load_generator(path, "vllm", seed=0, max_model_len=4096)
    try:
        vl_texts = vl.generate(prompts, settings)
    finally:
        vl.close()
    assert len(hf_texts) == len(vl_texts) == len(prompts)
    assert sum(t != "" for t in hf_texts) >= len(prompts) // 2  # random weights still produce text
    mismatches = [i for i, (a, b) in enumerate(zip(hf_texts, vl_texts)) if a != b]
    assert mismatches == [], f"greedy outputs differ for prompts {mismatches}"
    # which completions the 24-token budget cut off: both engines say the same (evaluation reports the rate)
    assert len(hf.last_truncated) == len(prompts) and hf.last_truncated == vl.last_truncated


def test_sampling_is_seeded(tiny):
    path, rows = tiny
    gen = load_generator(path, "transformers")
    prompts = judge_messages(rows[:3], "plain_judge")
    s = SamplingSettings(max_new_tokens=16, temperature=1.0, seed=11)
    assert gen.generate(prompts, s) == gen.generate(prompts, s)


def test_from_model_wraps_memory_model_and_restores_train_mode(tiny):
    path, rows = tiny
    base = load_generator(path, "transformers")
    base.model.train()
    wrapped = TransformersGenerator.from_model(base.model, base.tokenizer, batch_size=2)
    out = wrapped.generate(judge_messages(rows[:2], "instruct_cor"), SamplingSettings(max_new_tokens=4))
    assert len(out) == 2 and base.model.training


def test_unknown_backend():
    with pytest.raises(ConfigError, match="backend 'sglang' is not known"):
        load_generator("x", "sglang")


class _OracleGenerator:
    """Stands in for a perfect judge: writes the oracle trace for the row whose prompt it is given."""

    def __init__(self, rows, kind):
        self.by_prompt = {m[-1]["content"]: oracle_trace(r, kind) for r, m in zip(rows, judge_messages(rows, kind))}

    def generate(self, conversations, settings, progress=False):
        return [self.by_prompt[c[-1]["content"]] for c in conversations]


def test_judge_pairs_metrics_perfect_and_broken():
    rows = make_pairs(10, seed=5)
    results = judge_pairs(_OracleGenerator(rows, "instruct_cor"), rows, "instruct_cor", SamplingSettings())
    m = verdict_metrics(results)
    assert (m["n"], m["accuracy_strict"], m["accuracy_lenient"], m["complete_rate"]) == (10, 1, 1, 1)
    # a verdict outside the last 80 characters: lenient still reads it, strict does not
    late = "<answer>[[A]]</answer>" + " and that is my final word on the matter" * 3
    s = score_judgement(late, "model_a")
    assert (s["verdict_strict"], s["verdict_lenient"], s["correct_lenient"]) == (None, "A", 1)
    assert verdict_metrics([s, score_judgement("", "model_b")])["parse_rate_lenient"] == 0.5
    assert verdict_metrics([]) == {"n": 0}


def test_released_rows_without_raw_pair_use_their_rendered_prompt():
    rows = make_pairs(2, seed=1)
    released = dict(rows[0], conversation_a=None, conversation_b=None,
                    context_messages=[{"role": "user", "content": "rendered by the authors"}])
    msgs = judge_messages([rows[1], released], "plain_judge")
    assert msgs[1] == [{"role": "user", "content": "rendered by the authors"}]
    assert msgs[0][0]["role"] == "system" and msgs[0] != rows[1]["context_messages"]
