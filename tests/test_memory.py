"""The GPU memory planner: shapes against published parameter counts, byte accounting against published figures,
monotonicity in every input, and the single-GPU profile's vLLM share against the planner's estimate."""

import itertools

import pytest

from rmr1lib import memory
from rmr1lib.errors import ConfigError
from rmr1lib.memory import GIB, MODEL_CARD_PARAMS, estimate_memory, model_shape
from rmr1lib.profiles import load_profile


@pytest.mark.parametrize("size", sorted(MODEL_CARD_PARAMS))
def test_shapes_reproduce_model_card_parameter_counts(size):
    total, non_embedding = MODEL_CARD_PARAMS[size]
    shape = model_shape(size)
    assert shape.total_params() == pytest.approx(total, rel=0.01)
    assert shape.non_embedding_params() == pytest.approx(non_embedding, rel=0.01)


def test_known_values():
    # ZeRO paper: mixed-precision Adam holds 16 bytes per parameter; 7.5B parameters -> 120 GB
    n = int(7.5e9)
    assert 2 * n + memory.full_finetune_state_bytes(n) == 120e9
    # Llama-3.1-8B is the 8.03B-parameter model; bf16 weights ~16 GB and 20K tokens of KV ~2.5 GB (Unsloth blog)
    llama = model_shape("llama-3.1-8b")
    assert llama.total_params() == pytest.approx(8.03e9, rel=0.005)
    assert memory.weight_bytes(llama, quantized=False) / 1e9 == pytest.approx(16, rel=0.05)
    assert llama.kv_bytes_per_token() * 20_000 / 1e9 == pytest.approx(2.5, rel=0.1)
    # Qwen2.5-7B: 28 layers x 4 KV heads x 128 dims x (K, V) x 2 bytes = 56 KiB per token
    assert model_shape("7B").kv_bytes_per_token() == 56 * 1024
    # NF4 + double quantisation: 4.127 bits per quantised weight (QLoRA paper)
    shape = model_shape("7B")
    linear = shape.layers * shape.layer_linear_params()
    nf4 = memory.weight_bytes(shape, quantized=True) - 2 * (shape.total_params() - linear)
    assert nf4 * 8 / linear == pytest.approx(4.127, abs=1e-3)


def test_lora_parameter_count_by_hand():
    # rank 8 on Qwen2.5-1.5B: per layer r * sum(in + out) over q, k, v, o, gate, up, down
    h, kv, i = 1536, 256, 8960
    per_layer = 8 * ((h + h) + (h + kv) * 2 + (h + h) + (h + i) * 3)
    assert model_shape("1.5B").lora_params(8) == 28 * per_layer


def _total(**kw):
    base = dict(size="7B", mode="lora", num_generations=7, prompt_tokens=1024, response_tokens=1024,
                micro_batch=1, lora_r=64)
    base.update(kw)
    return estimate_memory(base.pop("size"), base.pop("mode"), **base).total


@pytest.mark.parametrize("key, small, large", [
    ("num_generations", 4, 8), ("prompt_tokens", 512, 4096), ("response_tokens", 512, 8192),
    ("micro_batch", 1, 4), ("lora_r", 8, 128), ("size", "1.5B", "3B"), ("size", "3B", "7B"),
    ("size", "7B", "14B"),
])
def test_more_of_anything_needs_more_memory(key, small, large):
    assert _total(**{key: small}) < _total(**{key: large})


def test_mode_and_switches_order_memory():
    for size in memory.PLANNER_SIZES:
        q, l, f = (estimate_memory(size, m) for m in ("qlora", "lora", "full"))
        assert q.total < l.total < f.total
        assert q.policy_weights < l.policy_weights == f.policy_weights
        assert f.reference_weights > 0 and l.reference_weights == q.reference_weights == 0
    with_ckpt = estimate_memory("7B", gradient_checkpointing=True)
    without = estimate_memory("7B", gradient_checkpointing=False)
    assert with_ckpt.activations < without.activations
    assert estimate_memory("7B", use_vllm=False).total < estimate_memory("7B").total
    assert estimate_memory("7B", use_vllm=False).vllm_memory_fraction(48) is None


def test_fits_is_monotone_in_gpu_size():
    for size, mode in itertools.product(memory.PLANNER_SIZES, memory.MODES):
        e = estimate_memory(size, mode)
        verdicts = [e.fits(g) for g in (16, 24, 48, 80, 141)]
        assert verdicts == sorted(verdicts)  # once it fits, it fits every larger GPU
        smallest = memory.smallest_gpu(e)
        assert smallest is None or e.total <= smallest * GIB


def test_plan_table_rows_and_verdict_columns():
    rows = memory.plan_table(sizes=("1.5B", "14B"), modes=("lora", "qlora"), gpus=(24, 48, 80))
    assert [(r["model"], r["mode"]) for r in rows] == [("Qwen2.5-1.5B", "lora"), ("Qwen2.5-1.5B", "qlora"),
                                                       ("Qwen2.5-14B", "lora"), ("Qwen2.5-14B", "qlora")]
    for r in rows:
        assert {r["24 GB"], r["48 GB"], r["80 GB"]} <= {"fits", "no"}
        parts = ("weights", "adapters+optimizer", "activations", "vLLM weights", "vLLM KV cache")
        assert sum(r[p] for p in parts) < r["total (GiB)"]  # + runtime overhead


def test_single_gpu_profile_gives_vllm_enough_memory():
    # the single_gpu profile's vLLM share must hold what the planner says colocated vLLM needs, on 48 GB
    prof = load_profile("single_gpu")
    rl = prof.rl
    e = estimate_memory(prof.model.size, rl.mode, num_generations=rl.num_generations,
                        prompt_tokens=rl.max_prompt_tokens, response_tokens=rl.max_response_tokens,
                        micro_batch=rl.per_device_batch_size, lora_r=rl.lora_r)
    assert e.fits(48)
    assert rl.vllm_gpu_memory_utilization >= e.vllm_memory_fraction(48)


def test_published_comparison_has_sources():
    rows = memory.published_comparison()
    assert len(rows) == len(memory.PUBLISHED)
    for r in rows:
        assert r["url"].startswith("https://") and r["published"] and r["our estimate"].endswith("GB")


@pytest.mark.parametrize("kwargs, message", [
    ({"size": "70B"}, "unknown model size '70B'"),
    ({"mode": "dora"}, "mode 'dora' is not one of"),
    ({"prompt_tokens": 0}, "prompt_tokens must be a positive integer"),
    ({"num_generations": 2.5}, "num_generations must be a positive integer"),
    ({"micro_batch": True}, "micro_batch must be a positive integer"),
])
def test_bad_inputs_are_named(kwargs, message):
    args = {"size": "7B", **kwargs}
    with pytest.raises(ConfigError, match=message):
        estimate_memory(args.pop("size"), **args)
