"""Every Hugging Face hub id (and outside download) the workbook knows, in one place.

Profiles, data loaders, the released-trace teacher and the benchmark loaders all take their defaults from here,
so a renamed dataset is changed once. Nothing here downloads: rmr1lib.hub and rmr1lib.data decide whether the hub
may be reached (the smoke profile never does).

Pure core: no imports.
"""

#: Base models of the paper's judges, by profile model.family; {size} is 7B, 14B or 32B (paper §4).
BASE_MODELS = {
    "qwen2.5-instruct": "Qwen/Qwen2.5-{size}-Instruct",
    "deepseek-r1-distill-qwen": "deepseek-ai/DeepSeek-R1-Distill-Qwen-{size}",
}

#: The end-of-sequence token text of each base family's chat template (for rl.reward_counts_eos on verl, where no
#: tokenizer is loaded when the recipe is written; TRL reads it from the tokenizer).
EOS_TEXT = {
    "qwen2.5-instruct": "<|im_end|>",
    "deepseek-r1-distill-qwen": "<｜end▁of▁sentence｜>",
}

#: The three public preference sources the paper mixes (paper §4, Table 5).
SOURCE_DATASETS = {
    "skywork": "Skywork/Skywork-Reward-Preference-80K-v0.2",
    "code_pref": "Vezora/Code-Preference-Pairs",
    "math_dpo": "xinlai/Math-Step-DPO-10K",
}

#: The authors' released data: distillation traces and the two RL sets.
RELEASED_DATASETS = {
    "distill_sft": "gaotang/RM-R1-Distill-SFT",
    "after_distill_rlvr": "gaotang/RM-R1-after-Distill-RLVR",
    "reasoning_rlvr": "gaotang/RM-R1-Reasoning-RLVR",
}

#: The authors' released judges are gaotang/<name>, the name as in the paper's tables (e.g. RM-R1-Qwen2.5-Instruct-7B).
RELEASED_JUDGE_OWNER = "gaotang"

#: Evaluation benchmarks on the hub (RMB is not on the hub: see RMB_REPOSITORY).
BENCHMARK_DATASETS = {
    "rewardbench": "allenai/reward-bench",
    "rm-bench": "THU-KEG/RM-Bench",
}
RMB_REPOSITORY = "https://github.com/Zhou-Zoey/RMB-Reward-Model-Benchmark"


def released_judge(name: str) -> str:
    """The hub id of a released RM-R1 judge from its paper name ('RM-R1-Qwen2.5-Instruct-7B')."""
    return f"{RELEASED_JUDGE_OWNER}/{name}"
