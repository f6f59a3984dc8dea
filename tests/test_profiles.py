"""Profiles: built-ins load, paper values resolve, and every kind of bad input names the key and value."""

import pytest
import yaml

from rmr1lib.errors import ConfigError
from rmr1lib.profiles import (BUILTIN_PROFILES, PROFILE_DIR, describe_fields, load_profile, parse_overrides)


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_builtin_profiles_load_and_name_themselves(name):
    p = load_profile(name)
    assert p.name == name
    assert p.to_dict()["name"] == name


def test_smoke_is_offline_cpu_tiny():
    p = load_profile("smoke")
    assert (p.device, p.model.family, p.data.source, p.rl.use_vllm) == ("cpu", "tiny", "synthetic", False)
    assert p.model_name() == "tiny"


@pytest.mark.parametrize("family,size,sft_lr,rl_lr", [
    ("qwen2.5-instruct", "7B", 5e-6, 1e-6),
    ("qwen2.5-instruct", "14B", 3e-6, 7e-7),
    ("qwen2.5-instruct", "32B", 2e-6, 5e-7),
    ("deepseek-r1-distill-qwen", "14B", 3e-6, 1e-6),
    ("deepseek-r1-distill-qwen", "32B", 2e-6, 8e-7),
])
def test_cluster_auto_learning_rates_follow_the_paper(family, size, sft_lr, rl_lr):
    p = load_profile("cluster", {"model.family": family, "model.size": size})
    assert p.sft_learning_rate() == sft_lr
    assert p.rl_learning_rate() == rl_lr
    assert size in p.model_name()


def test_cluster_keeps_paper_rl_settings():
    rl = load_profile("cluster").rl
    assert (rl.num_generations, rl.prompts_per_step, rl.mini_batch_prompts) == (7, 1024, 128)
    assert (rl.kl_coef, rl.clip_ratio, rl.temperature) == (1e-3, 0.2, 1.0)
    assert (rl.max_prompt_tokens, rl.max_response_tokens) == (4096, 8192)


def test_auto_lr_without_paper_value_is_an_error():
    with pytest.raises(ConfigError, match=r"sft.learning_rate: 'auto' has no paper value for model size '1.5B'"):
        load_profile("cluster", {"model.size": "1.5B"})


@pytest.mark.parametrize("overrides,needle", [
    ({"sft.lerning_rate": 1e-5}, "unknown key 'sft.lerning_rate'. Did you mean 'learning_rate'?"),
    ({"nonsense": 1}, "unknown key 'nonsense'"),
    ({"sft.mode": "qlora8"}, "sft.mode: 'qlora8' is not allowed; choose one of 'full', 'lora', 'qlora'"),
    ({"sft.max_steps": "many"}, "sft.max_steps: expected an integer, got 'many'"),
    ({"sft.max_steps": True}, "sft.max_steps: expected an integer, got True"),
    ({"data.multi_turn_fraction": 1.5}, "data.multi_turn_fraction: 1.5 is too large; must be <= 1.0"),
    ({"data.n_train": -1}, "data.n_train: -1 is too small; must be >= 0"),
    ({"data.kinds": ["reasoning", "poetry"]}, "data.kinds: 'poetry' is not allowed"),
    ({"data.kinds": []}, "data.kinds: expected a non-empty list"),
    ({"judge.prompt_kind": "mt_bench"}, "judge.prompt_kind: 'mt_bench' is not allowed"),
    ({"rl.learning_rate": -1.0}, "rl.learning_rate: must be > 0 or 'auto'"),
    ({"rl.learning_rate": "fast"}, "rl.learning_rate: expected a number or 'auto', got 'fast'"),
    ({"model": 3}, "model: expected a mapping"),
    ({"model.tiny.num_heads": 8}, "head size 16"),
    ({"rl.use_vllm": True}, "rl.use_vllm: true needs device 'cuda'"),
    ({"model.size": "7B"}, "does not fit model.family 'tiny'"),
])
def test_bad_overrides_name_key_value_and_allowed(overrides, needle):
    with pytest.raises(ConfigError) as info:
        load_profile("smoke", overrides)
    assert needle in str(info.value)
    assert str(info.value).startswith("profile 'smoke':")


def test_override_forms_agree():
    a = load_profile("smoke", {"sft.max_steps": 7, "model.tiny.num_layers": 3})
    b = load_profile("smoke", {"sft": {"max_steps": 7}, "model": {"tiny": {"num_layers": 3}}})
    c = load_profile("smoke", "sft.max_steps: 7\nmodel.tiny.num_layers: 3")
    d = load_profile("smoke", ["sft.max_steps=7", "model.tiny.num_layers=3"])
    assert a.to_dict() == b.to_dict() == c.to_dict() == d.to_dict()
    assert a.sft.max_steps == 7 and a.model.tiny.num_layers == 3
    assert a.model.tiny.hidden_size == 128  # untouched sibling keys survive a nested override


def test_yaml_scientific_notation_without_dot_is_a_float():
    # PyYAML reads 1e-5 as a string (YAML 1.1); the loader must still take it as a number
    p = load_profile("smoke", "sft.learning_rate: 1e-5")
    assert p.sft_learning_rate() == pytest.approx(1e-5)


@pytest.mark.parametrize("bad", ["sft.max_steps: [", "just a string", ["no_equals_sign"], 42])
def test_malformed_overrides(bad):
    with pytest.raises(ConfigError, match="overrides"):
        parse_overrides(bad)


def test_user_profile_file_copy_and_edit(tmp_path):
    data = yaml.safe_load((PROFILE_DIR / "smoke.yaml").read_text())
    data["name"] = "mine"
    data["sft"]["max_steps"] = 3
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    p = load_profile(str(path))
    assert (p.name, p.sft.max_steps) == ("mine", 3)
    (tmp_path / "broken.yaml").write_text("sft: {mode: nope}\n")
    with pytest.raises(ConfigError, match="sft.mode: 'nope'"):
        load_profile(str(tmp_path / "broken.yaml"))


def test_unknown_profile_name():
    with pytest.raises(ConfigError, match="profile 'smok' not found: use one of smoke, study, rehearsal, single_gpu, cluster"):
        load_profile("smok")


def test_every_field_has_help():
    rows = describe_fields()
    assert len(rows) > 50
    missing = [key for key, _, help_text in rows if not help_text]
    assert missing == []
