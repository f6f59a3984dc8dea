"""The training engine both stages share: LoRA and QLoRA from the profile, placement per rank, trainer arguments."""

import pytest

from rmr1lib.engine import (checkpoint_step, compute_dtype, device_map, lora_target_modules, peft_config,
                            quantization_config, training_arguments)
from rmr1lib.errors import ConfigError
from rmr1lib.profiles import load_profile


def test_lora_targets_come_from_the_profile_in_both_stages():
    prof = load_profile("smoke", {"sft.mode": "lora", "rl.lora_targets": "q_proj, v_proj"})
    assert peft_config(prof.sft).target_modules == "all-linear"
    rl = peft_config(prof.rl)
    assert set(rl.target_modules) == {"q_proj", "v_proj"} and (rl.r, rl.lora_alpha) == (prof.rl.lora_r,
                                                                                         prof.rl.lora_alpha)
    assert peft_config(load_profile("smoke").sft) is None  # full fine-tuning has no adapter
    assert lora_target_modules("all-linear") == "all-linear"
    with pytest.raises(ConfigError, match="lora_targets"):
        lora_target_modules(" , ")


def test_each_rank_places_its_4bit_base_on_its_own_gpu(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert device_map("cuda") == {"": 0} and device_map("cpu") == {"": "cpu"}
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert device_map("cuda") == {"": 3}
    monkeypatch.setenv("LOCAL_RANK", "x")
    with pytest.raises(ConfigError, match="LOCAL_RANK"):
        device_map("cuda")


def test_qlora_computes_in_the_profiles_dtype():
    import torch

    assert compute_dtype(load_profile("single_gpu")) == "bfloat16"
    assert compute_dtype(load_profile("single_gpu", {"model.dtype": "float16"})) == "float16"
    assert compute_dtype(load_profile("smoke")) == "float32"  # CPU computes in fp32
    config = quantization_config("float16")
    assert config.bnb_4bit_compute_dtype == torch.float16 and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant


def test_trainer_arguments_come_from_the_section(tmp_path):
    gpu = load_profile("single_gpu", {"rl.weight_decay": 0.05, "rl.adam_beta2": 0.95, "rl.lr_scheduler": "cosine"})
    rl = training_arguments(gpu, gpu.rl, tmp_path, learning_rate=1e-6, report_to="tensorboard")
    assert (rl["weight_decay"], rl["adam_beta2"], rl["lr_scheduler_type"]) == (0.05, 0.95, "cosine")
    assert rl["bf16"] and not rl["use_cpu"] and rl["gradient_checkpointing"] and rl["report_to"] == "tensorboard"
    assert rl["save_total_limit"] == gpu.rl.keep_checkpoints and rl["logging_steps"] == gpu.rl.logging_steps
    cpu = load_profile("smoke", {"sft.gradient_checkpointing": True})
    sft = training_arguments(cpu, cpu.sft, tmp_path, learning_rate=1e-3)
    assert sft["use_cpu"] and not sft["bf16"] and not sft["gradient_checkpointing"]  # no checkpointing on CPU
    assert (sft["adam_beta1"], sft["adam_beta2"]) == (cpu.sft.adam_beta1, cpu.sft.adam_beta2) == (0.9, 0.999)
    with pytest.raises(ConfigError, match="rl.adam_beta1: 1.0 is too large; must be < 1.0"):
        load_profile("smoke", {"rl.adam_beta1": 1.0})


def test_checkpoint_step():
    assert checkpoint_step("/x/checkpoints/checkpoint-120") == 120
    with pytest.raises(ConfigError, match="not a checkpoint-N folder"):
        checkpoint_step("/x/model")
