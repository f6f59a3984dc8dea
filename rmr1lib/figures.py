"""Figures shared by the notebooks (seaborn/matplotlib). Each function returns a matplotlib Figure."""

from __future__ import annotations

from typing import Optional


def pipeline_figure(highlight: Optional[str] = None):
    """The RM-R1 pipeline as boxes and arrows: data -> distillation -> RLVR -> judge -> evaluation."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    stages = [
        ("preference pairs", "Skywork, Code-Pref,\nMath-DPO (~73K)", "01"),
        ("teacher traces", "strong teacher writes\nCoR traces; keep the\nright verdicts (~9K)", "03"),
        ("distillation SFT", "loss on the trace\nonly; 1 epoch", "03"),
        ("RL with verifiable\nreward (GRPO)", "+1 right verdict\n-1 otherwise;\n7 rollouts, KL 1e-3", "04/05"),
        ("RM-R1 judge", "categorise -> rubric\nor own solution ->\neval -> [[A]]/[[B]]", "02"),
        ("evaluation", "RewardBench,\nRM-Bench, RMB", "06"),
    ]
    fig, ax = plt.subplots(figsize=(13, 3.2))
    ax.set_xlim(0, len(stages) * 2.2)
    ax.set_ylim(0, 3)
    ax.axis("off")
    palette = plt.get_cmap("Set2")
    for i, (title, body, nb) in enumerate(stages):
        x = i * 2.2 + 0.1
        strong = highlight is not None and highlight in title
        box = FancyBboxPatch((x, 0.35), 1.85, 2.3, boxstyle="round,pad=0.04", linewidth=2.5 if strong else 1,
                             edgecolor="black", facecolor=palette(i % 8), alpha=0.9)
        ax.add_patch(box)
        ax.text(x + 0.925, 2.3, title, ha="center", va="center", fontsize=9.5, weight="bold")
        ax.text(x + 0.925, 1.25, body, ha="center", va="center", fontsize=8)
        ax.text(x + 0.925, 0.5, f"notebook {nb}", ha="center", va="center", fontsize=7, style="italic")
        if i < len(stages) - 1:
            ax.add_patch(FancyArrowPatch((x + 1.9, 1.5), (x + 2.25, 1.5), arrowstyle="-|>", mutation_scale=14))
    ax.text(0.1, 2.9, "Reward Modeling as Reasoning: distill reasoning traces, then reinforce correct verdicts",
            fontsize=10.5, va="center")
    fig.tight_layout()
    return fig
