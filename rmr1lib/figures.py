"""Figures shared by the notebooks (seaborn/matplotlib), and HTML views of prompts and judge traces.

The *_figure functions return a matplotlib Figure. The *_html functions return an HTML string for
IPython.display.HTML: inline styles only (it reads the same in JupyterLab and in an exported notebook), and every
piece of model or dataset text is escaped, so it is shown as text and never rendered or executed as markup.
"""

from __future__ import annotations

import html
import re
from typing import Mapping, Optional, Sequence


def existing_notebooks() -> set[str]:
    """The two-digit numbers of the workbook's notebooks that exist in notebooks/ (e.g. {'00', '01', ...})."""
    from .files import repo_root

    return {p.name[:2] for p in (repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")}


def notebook_label(numbers: str, available: set[str]) -> str:
    """'notebook 04' / 'notebooks 04, 05' for the numbers in 'NN/NN' that exist; '' when none of them does."""
    present = [n for n in numbers.split("/") if n in available]
    if not present:
        return ""
    return ("notebook " if len(present) == 1 else "notebooks ") + ", ".join(present)


def pipeline_figure(highlight: Optional[str] = None, available: Optional[set[str]] = None):
    """The RM-R1 pipeline as boxes and arrows: data -> distillation -> RLVR -> judge -> evaluation.

    Each box names the notebooks that reproduce it, among `available` (default: those in notebooks/), so the
    figure never points to a notebook that does not exist.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    available = existing_notebooks() if available is None else set(available)

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
        ax.text(x + 0.925, 0.5, notebook_label(nb, available), ha="center", va="center", fontsize=8,
                style="italic")
        if i < len(stages) - 1:
            ax.add_patch(FancyArrowPatch((x + 1.9, 1.5), (x + 2.25, 1.5), arrowstyle="-|>", mutation_scale=14))
    ax.text(0.1, 2.9, "Reward Modeling as Reasoning: distill reasoning traces, then reinforce correct verdicts",
            fontsize=10.5, va="center")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# Notebook 01 (data preparation). Each takes a pandas DataFrame of rmr1lib.data.pair_summary records
# (columns split, source, category, turns, winner, chosen_side, prompt_tokens, chosen_tokens, rejected_tokens).


def composition_figure(frame):
    """Rows per source and category (rows) by split and turns (columns), as an annotated heatmap."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = frame.pivot_table(index=["source", "category"], columns=["split", "turns"], values="id",
                              aggfunc="count", fill_value=0)
    fig, ax = plt.subplots(figsize=(2.2 + 1.3 * table.shape[1], 1.2 + 0.45 * table.shape[0]))
    sns.heatmap(table, annot=True, fmt="d", cmap="Blues", cbar=False, linewidths=0.5, ax=ax)
    ax.set_xlabel("split / turns")
    ax.set_ylabel("source / category")
    ax.set_title("Composition of the prepared mix (pairs)")
    fig.tight_layout()
    return fig


def length_figure(frame, max_prompt_tokens: int):
    """Prompt tokens by category (with the filter's limit) and chosen vs rejected response tokens."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    sns.histplot(data=frame, x="prompt_tokens", hue="category", multiple="stack", bins=30, ax=axes[0])
    if max_prompt_tokens <= 1.5 * frame["prompt_tokens"].max():  # the limit is near the data: draw it
        axes[0].axvline(max_prompt_tokens, color="crimson", linestyle="--")
        axes[0].annotate(f"max_prompt_tokens = {max_prompt_tokens}", (max_prompt_tokens, 0.95),
                         xycoords=("data", "axes fraction"), ha="right", va="top", color="crimson", fontsize=8)
    else:  # far to the right: say so instead of squashing the histogram against the left edge
        axes[0].text(0.98, 0.95, f"max_prompt_tokens = {max_prompt_tokens}\n(far right of every prompt)",
                     transform=axes[0].transAxes, ha="right", va="top", color="crimson", fontsize=8)
    axes[0].set_title("Rendered judge prompt length (tokens)")
    responses = frame.melt(id_vars=["category"], value_vars=["chosen_tokens", "rejected_tokens"],
                           var_name="response", value_name="tokens").dropna()
    responses["response"] = responses["response"].str.replace("_tokens", "", regex=False)
    sns.boxplot(data=responses, x="category", y="tokens", hue="response", ax=axes[1])
    axes[1].set_title("Response length: chosen vs rejected (tokens)")
    fig.tight_layout()
    return fig


def balance_figure(frame):
    """Share of pairs whose preferred response sits in position A, per source and split (0.5 = balanced)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    shares = (frame.assign(chosen_is_a=frame["chosen_side"].eq("A").astype(float))
              .groupby(["source", "split"], as_index=False)
              .agg(share_a=("chosen_is_a", "mean"), pairs=("id", "count")))
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.55 * shares["source"].nunique() * shares["split"].nunique()))
    sns.barplot(data=shares, y="source", x="share_a", hue="split", ax=ax, orient="h")
    ax.axvline(0.5, color="black", linestyle=":")
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of pairs with the preferred response in position A")
    for container in ax.containers:
        ax.bar_label(container, fmt="%.2f", fontsize=8, padding=2)
    ax.set_title("A/B balance of the preference label")
    fig.tight_layout()
    return fig


def filter_figure(reasons: list):
    """Rows left out of the mix, by stage and reason (the build report's reasons table)."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    table = pd.DataFrame(reasons, columns=["stage", "source", "reason", "field", "count"])
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.4 * max(len(table), 1)))
    if table.empty:
        ax.text(0.5, 0.5, "nothing was left out", ha="center", va="center")
        ax.axis("off")
        return fig
    table["what"] = table["stage"] + ": " + table["reason"] + " (" + table["source"] + ")"
    sns.barplot(data=table, y="what", x="count", hue="stage", dodge=False, ax=ax, orient="h")
    for container in ax.containers:
        ax.bar_label(container, fontsize=8, padding=2)
    ax.set_ylabel("")
    ax.set_xlabel("rows left out")
    ax.set_title("What the build left out, and why")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# Notebook 03 (distillation)


def teacher_passes_figure(stats: Mapping):
    """Bars of the two teacher passes: sent, right in pass 1, re-asked and right in pass 2, kept and dropped."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    stages = pd.DataFrame([("sent to the teacher", stats["pairs"], "input"),
                           ("right in pass 1", stats.get("pass1_correct", stats["kept"]), "pass 1"),
                           ("re-asked in pass 2", stats.get("pass2_asked", 0), "pass 2"),
                           ("right in pass 2", stats.get("pass2_correct", 0), "pass 2"),
                           ("kept for SFT", stats["kept"], "result"),
                           ("dropped", stats["pairs"] - stats["kept"], "result")],
                          columns=["stage", "pairs", "step"])
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(data=stages, y="stage", x="pairs", hue="step", dodge=False, ax=ax)
    ax.set(title="Teacher traces: two passes and the correctness filter", ylabel="")
    ax.legend(title="", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def loss_curve_figure(history: Sequence[Mapping], title: str = "SFT loss on the teacher traces (trace tokens only)"):
    """The training loss per logged optimizer step (an SFT loss history: rows with 'step' and 'loss')."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 3))
    sns.lineplot(data=pd.DataFrame(list(history)), x="step", y="loss", marker="o", ax=ax)
    ax.set(title=title, xlabel="optimizer step", ylabel="loss")
    fig.tight_layout()
    return fig


JUDGE_METRICS = ("parse_rate_lenient", "accuracy_lenient", "parse_rate_strict", "accuracy_strict", "complete_rate")
METRIC_LABELS = {"parse_rate_lenient": "readable verdict (lenient)", "accuracy_lenient": "accuracy (lenient)",
                 "parse_rate_strict": "readable verdict (strict)", "accuracy_strict": "accuracy (strict)",
                 "complete_rate": "complete trace"}


def judge_metrics_figure(metrics: Mapping[str, Mapping], n: int, title: str = "Held-out pairs"):
    """Parse rates, accuracies and complete-trace rate of several judges ({judge: verdict_metrics}) side by side,
    with the coin-flip line (0.5) and its 95% band for n pairs drawn across the accuracy rows."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .judging import coin_flip_band

    long = pd.DataFrame([{"metric": METRIC_LABELS[m], "judge": judge, "share": values[m]}
                         for judge, values in metrics.items() for m in JUDGE_METRICS if m in values])
    order = [METRIC_LABELS[m] for m in JUDGE_METRICS if METRIC_LABELS[m] in set(long["metric"])]
    fig, ax = plt.subplots(figsize=(8.5, 0.6 + 0.55 * len(order)))
    sns.barplot(data=long, x="share", y="metric", hue="judge", order=order, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.2f", fontsize=9, padding=2)
    lo, hi = coin_flip_band(n) if n > 0 else (0.5, 0.5)
    for i, label in enumerate(order):
        if label.startswith("accuracy"):
            ax.fill_betweenx([i - 0.45, i + 0.45], lo, hi, color="grey", alpha=0.15, lw=0, zorder=0)  # behind
            ax.plot([0.5, 0.5], [i - 0.45, i + 0.45], color="black", lw=1, ls=":")
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="black", lw=1, ls=":"), Patch(color="grey", alpha=0.15)]
    labels += ["coin flip (0.5)", f"95% coin-flip band, n={n}"]
    ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    ax.set(xlim=(0, 1.08), ylabel="", xlabel="share of held-out pairs",
           title=f"{title} (n={n}): {' vs '.join(metrics)}")
    fig.tight_layout()
    return fig


def rmbench_heatmap(matrices: dict, title: Optional[str] = None):
    """RM-Bench's 3x3 style matrices, one heatmap per domain (rows: chosen style, columns: rejected style).

    `matrices` is {domain: 3x3 list}, as rmr1lib.scoring.score_rmbench returns under "matrix". Cells above the
    diagonal are the hard comparisons (the preferred answer is plainer than the dispreferred one).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    domains = list(matrices)
    if not domains:
        raise ValueError("rmbench_heatmap: no RM-Bench matrices to draw (were any RM-Bench rows scored?)")
    fig = plt.figure(figsize=(3.4 * len(domains) + 1.4, 4.2))
    grid = fig.add_gridspec(1, len(domains) + 1, width_ratios=[1] * len(domains) + [0.06])
    cbar_ax = fig.add_subplot(grid[0, -1])
    labels = ["concise", "detailed\nplain", "detailed\nmarkdown"]  # rmr1lib.scoring.RMBENCH_STYLES
    for k, domain in enumerate(domains):
        ax = fig.add_subplot(grid[0, k])
        sns.heatmap(matrices[domain], vmin=0, vmax=1, cmap="RdYlGn", annot=True, fmt=".2f", square=True,
                    cbar=k == 0, cbar_ax=cbar_ax if k == 0 else None, xticklabels=labels,
                    yticklabels=labels if k == 0 else False, ax=ax, annot_kws={"fontsize": 11})
        ax.set_title(domain, fontsize=12)
        ax.set_xlabel("rejected style", fontsize=11)
        ax.tick_params(axis="x", labelrotation=0, labelsize=10)
        ax.tick_params(axis="y", labelrotation=0, labelsize=10)
        if k == 0:
            ax.set_ylabel("chosen style", fontsize=11)
    fig.suptitle(title or "RM-Bench accuracy by style pair (above the diagonal = hard)", fontsize=12)
    fig.tight_layout()
    return fig


def paper_comparison_figure(rows: list, title: Optional[str] = None):
    """Paper vs this run, one pair of bars per metric (rows as rmr1lib.paper.compare_with_paper returns)."""
    import matplotlib.pyplot as plt
    import numpy as np

    shown = [r for r in rows if r.get("metric") == "score" or r.get("benchmark") == "average"]
    if not shown:
        raise ValueError("paper_comparison_figure: no rows with a 'score' metric to draw")
    labels = [r["benchmark"] + ("\n(as the paper)" if r.get("scoring") == "reference_aggregation" else "")
              for r in shown]
    x = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(1.7 * len(shown) + 4.0, 3.8))
    ax.bar(x - 0.2, [r["paper"] for r in shown], 0.4, label=f"paper ({shown[0]['model']})", color="#8da0cb")
    ax.bar(x + 0.2, [r["ours"] if r["ours"] is not None else 0 for r in shown], 0.4, label="this run",
           color="#fc8d62")
    for i, r in enumerate(shown):
        ax.text(i - 0.2, r["paper"] + 0.01, f"{r['paper']:.3f}", ha="center", fontsize=9)
        ours = "n/a" if r["ours"] is None else f"{r['ours']:.3f}"
        ax.text(i + 0.2, (r["ours"] or 0) + 0.01, ours, ha="center", fontsize=9)
    ax.axhline(0.5, color="black", lw=1, ls=":", label="coin flip on a pair (0.5)", zorder=0.5)  # behind the bars
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score (fraction)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title or "Paper vs this run")
    fig.tight_layout()
    return fig


def prompt_parts_figure(frame):
    """Tokens per named prompt part, one stacked bar per prompt kind (columns kind, part, tokens)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    kinds = list(dict.fromkeys(frame["kind"]))
    parts = list(dict.fromkeys(frame["part"]))
    colours = dict(zip(parts, sns.color_palette("tab20", len(parts))))
    fig, ax = plt.subplots(figsize=(11, 0.9 + 0.6 * len(kinds)))
    for y, kind in enumerate(kinds):
        left = 0
        for _, row in frame[frame["kind"] == kind].iterrows():
            ax.barh(y, row["tokens"], left=left, color=colours[row["part"]], edgecolor="white",
                    label=row["part"])
            if row["tokens"] >= 60:
                ax.text(left + row["tokens"] / 2, y, str(row["tokens"]), ha="center", va="center", fontsize=7)
            left += row["tokens"]
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), bbox_to_anchor=(1.01, 1), loc="upper left", fontsize=8)
    ax.set_yticks(range(len(kinds)), kinds)
    ax.invert_yaxis()
    ax.set_xlabel("tokens (the run's tokenizer)")
    ax.set_title("Where the judge prompt's tokens go, by part")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# HTML views (notebook 02)

TRACE_PARTS = {  # tag -> (background, what it holds)
    "think": ("#ececec", "the reasoning model's private reasoning"),
    "type": ("#ffe08a", "task category (Reasoning or Chat)"),
    "rubric": ("#d7ecff", "question-specific criteria with weights"),
    "justify": ("#b9dcff", "why these criteria and weights"),
    "solution": ("#d8f3dc", "the judge's own solution"),
    "eval": ("#f3e8ff", "the comparison"),
    "quote_A": ("#ffd6d6", "verbatim evidence from A"),
    "summary_A": ("#ffe9e9", "paraphrased evidence from A"),
    "quote_B": ("#d6f5ff", "verbatim evidence from B"),
    "summary_B": ("#e9faff", "paraphrased evidence from B"),
    "answer": ("#ffc46b", "the verdict"),
}
_TAG = re.compile(r"<(/?)(" + "|".join(TRACE_PARTS) + r")>")
_BOX = ("font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; "
        "line-height: 1.55; white-space: pre-wrap; word-wrap: break-word; color: #1a1a1a; background: #fcfcfc; "
        "border: 1px solid #d0d0d0; border-radius: 6px; padding: 10px 12px; margin: 4px 0;")
_LABEL = "color: #444; font-weight: 700; font-size: 11px;"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def trace_html(text: str, title: str = "") -> str:
    """A judge trace with each CoR part (type, rubric, justify, solution, eval, quotes, summaries, answer,
    think) shaded in its own colour, a legend, and unmatched tags flagged; all text escaped."""
    text = text if isinstance(text, str) else repr(text)
    out, stack, seen, problems = [], [], [], []
    pos = 0
    for m in _TAG.finditer(text):
        out.append(_esc(text[pos:m.start()]))
        closing, tag = m.group(1) == "/", m.group(2)
        colour = TRACE_PARTS[tag][0]
        if not closing:
            stack.append(tag)
            seen.append(tag)
            out.append(f'<span style="background: {colour}; border-radius: 3px; padding: 1px 0;">'
                       f'<span style="{_LABEL}">{_esc(m.group(0))}</span>')
        elif stack and stack[-1] == tag:
            stack.pop()
            out.append(f'<span style="{_LABEL}">{_esc(m.group(0))}</span></span>')
        else:
            problems.append(f"{m.group(0)} closes out of order" if tag in stack
                            else f"{m.group(0)} closes nothing that is open")
            out.append(f'<span style="color: #b00020; text-decoration: underline wavy;">{_esc(m.group(0))}</span>')
        pos = m.end()
    out.append(_esc(text[pos:]))
    for tag in reversed(stack):
        problems.append(f"<{tag}> is never closed")
        out.append("</span>")
    legend = " ".join(
        f'<span style="background: {TRACE_PARTS[t][0]}; color: #1a1a1a; border-radius: 3px; padding: 1px 5px; '
        f'font-size: 11px;" title="{_esc(TRACE_PARTS[t][1])}">{_esc(t)}: {_esc(TRACE_PARTS[t][1])}</span>'
        for t in dict.fromkeys(seen))
    head = f'<div style="font-weight: 700; margin: 6px 0 2px;">{_esc(title)}</div>' if title else ""
    note = ""
    if problems:
        note = ('<div style="color: #b00020; font-size: 12px;">tag problems: '
                + _esc("; ".join(problems)) + "</div>")
    return f'<div>{head}<div style="margin: 2px 0 4px; line-height: 2;">{legend}</div>' \
           f'<div style="{_BOX}">{"".join(out)}</div>{note}</div>'


def side_by_side_html(columns: Mapping[str, Mapping[str, str]], caption: str = "") -> str:
    """Texts next to each other: one column per title, each a sequence of labelled parts; all text escaped."""
    width = 100 / max(len(columns), 1)
    cells = []
    for title, parts in columns.items():
        body = "".join(
            f'<div style="{_LABEL} margin-top: 6px;">{_esc(name)}</div><div style="{_BOX}">{_esc(text)}</div>'
            for name, text in parts.items())
        cells.append(f'<td style="vertical-align: top; width: {width:.1f}%; padding: 4px 8px; text-align: left;">'
                     f'<div style="font-weight: 700;">{_esc(title)}</div>{body}</td>')
    cap = (f'<caption style="caption-side: top; text-align: left; padding: 2px 8px;">{_esc(caption)}</caption>'
           if caption else "")
    return (f'<table style="width: 100%; table-layout: fixed; border-collapse: collapse;">{cap}'
            f'<tr>{"".join(cells)}</tr></table>')


# ----------------------------------------------------------------------------------------------------------
# notebook 07 (the study) and notebook 08 (the paper's figures)

STUDY_COLOURS = {"ours": "#fc8d62", "paper": "#8da0cb"}


def study_variants_figure(rows: Sequence[Mapping], labels: Mapping[str, str], metric: str = "average",
                          title: str = "Ablation variants on the miniature benchmarks"):
    """Mean of `metric` per variant with its seeds as dots and the min-max range as a line (rows: the study's
    result rows of sweep 'variants'; labels: {variant: label} in the order to show)."""
    import matplotlib.pyplot as plt

    shown = [v for v in labels if any(r["variant"] == v for r in rows)]
    if not shown:
        raise ValueError("study_variants_figure: no result rows of the variants to draw")
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * len(shown) + 1.4))
    for y, name in enumerate(shown):
        values = [r[metric] for r in rows if r["variant"] == name and r.get(metric) is not None]
        if not values:
            ax.text(0.01, y, "no score", va="center", fontsize=8)
            continue
        centre = sum(values) / len(values)
        ax.barh(y, centre, color=STUDY_COLOURS["ours"], alpha=0.55, height=0.6)
        ax.plot([min(values), max(values)], [y, y], color="black", lw=1)
        ax.scatter(values, [y] * len(values), color="black", s=14, zorder=3)
        ax.text(min(1.0, max(values) + 0.015), y, f"{centre:.3f} (n={len(values)})", va="center", fontsize=8)
    ax.axvline(0.5, color="grey", ls=":", lw=1)
    ax.set_yticks(range(len(shown)), [labels[v] for v in shown])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel(f"{metric} score (fraction; dots: seeds, line: min to max; dotted: 0.5)")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def study_sweep_figure(rows: Sequence[Mapping], key: str, xlabel: str, metric: str = "average",
                       extra: Optional[str] = None, title: str = ""):
    """`metric` (and optionally a second column `extra`, e.g. the truncation rate) against a swept setting
    (`key`: 'budget' or 'size'), one dot per seed and a line through the means."""
    import matplotlib.pyplot as plt

    xs = sorted({r[key] for r in rows if r.get(key) is not None})
    if not xs:
        raise ValueError(f"study_sweep_figure: no rows with a {key!r} to draw")
    columns = [metric] + ([extra] if extra else [])
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 3.2), squeeze=False)
    for ax, column in zip(axes[0], columns):
        means = []
        for x in xs:
            values = [r[column] for r in rows if r.get(key) == x and r.get(column) is not None]
            ax.scatter([x] * len(values), values, color="black", s=14, zorder=3)
            means.append(sum(values) / len(values) if values else float("nan"))
        ax.plot(xs, means, marker="o", color=STUDY_COLOURS["ours"])
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(column.replace("_", " "))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def paper_benchmark_bars(rows: Sequence[Mapping], models: Sequence[str], title: str = ""):
    """The paper's Table 1 style: one group of bars per benchmark (RewardBench, RM-Bench, RMB, average), one bar
    per model. `rows` are rmr1lib.paper rows of one table (metric 'score')."""
    import matplotlib.pyplot as plt
    import numpy as np

    benchmarks = ["rewardbench", "rm-bench", "rmb", "average"]
    value = {(r["model"], r["benchmark"]): r["value"] for r in rows if r["metric"] == "score"}
    models = [m for m in models if any((m, b) in value for b in benchmarks)]
    if not models:
        raise ValueError("paper_benchmark_bars: none of the models has a score in the rows")
    width = 0.8 / len(models)
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(11, 4.2))
    x = np.arange(len(benchmarks))
    for i, model in enumerate(models):
        heights = [value.get((model, b), np.nan) for b in benchmarks]
        ax.bar(x - 0.4 + width * (i + 0.5), heights, width, label=model, color=cmap(i % 20))
    ax.set_xticks(x, ["RewardBench", "RM-Bench", "RMB", "average"])
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("score (fraction)")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def ladder_figure(steps: Sequence[Mapping], title: str = "", ours: Optional[Sequence[Mapping]] = None):
    """An ablation ladder: one bar per step (label, paper value), optionally with this run's mean per step
    ({"label", "mean", "min", "max"}) next to it."""
    import matplotlib.pyplot as plt
    import numpy as np

    if not steps:
        raise ValueError("ladder_figure: no steps to draw")
    x = np.arange(len(steps))
    both = ours is not None
    fig, ax = plt.subplots(figsize=(1.7 * len(steps) + 2, 3.8))
    shift = 0.2 if both else 0.0
    paper = [s["paper"] if s.get("paper") is not None else np.nan for s in steps]
    ax.bar(x - shift, paper, 0.4 if both else 0.6, color=STUDY_COLOURS["paper"], label="paper")
    for i, v in enumerate(paper):
        if not np.isnan(v):
            ax.text(i - shift, v + 0.005, f"{v:.3f}", ha="center", fontsize=7.5)
    if both:
        mine = {o["label"]: o for o in ours}
        for i, s in enumerate(steps):
            o = mine.get(s["label"])
            if o is None or o.get("mean") is None:
                ax.text(i + shift, 0.02, "not run", ha="center", rotation=90, fontsize=7)
                continue
            ax.bar(i + shift, o["mean"], 0.4, color=STUDY_COLOURS["ours"],
                   label="this run (mean, min to max)" if "this run (mean, min to max)" not in
                   ax.get_legend_handles_labels()[1] else None)
            ax.plot([i + shift] * 2, [o["min"], o["max"]], color="black", lw=1)
            ax.text(i + shift, o["max"] + 0.005, f"{o['mean']:.3f}", ha="center", fontsize=7.5)
        ax.set_ylim(0, 1.15)
    else:
        low = np.nanmin(paper)
        ax.set_ylim(max(0.0, low - 0.1), min(1.0, np.nanmax(paper) + 0.05))
    ax.set_xticks(x, [s["label"] for s in steps], fontsize=8)
    ax.set_ylabel("score (fraction)")
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def scaling_figure(series: Mapping[str, Sequence[tuple]], xlabel: str, title: str = ""):
    """Lines of (x, score) per series, e.g. {"RM-R1 Qwen2.5-Instruct": [(7, 0.739), (14, 0.778), ...]}."""
    import matplotlib.pyplot as plt

    if not series:
        raise ValueError("scaling_figure: no series to draw")
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for k, (name, points) in enumerate(series.items()):
        points = sorted(points)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
        for x, y in points:  # labels above the first series' points, below the others'
            ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, 6 if k == 0 else -12),
                        ha="center", fontsize=7.5)
    xs = sorted({p[0] for points in series.values() for p in points})
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("average score (fraction)")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def save_reproducible(fig, stem, formats: Sequence[str] = ("png", "svg")) -> list:
    """Save a figure as PNG and SVG whose bytes depend only on the figure: no dates or software versions in the
    metadata, and a fixed salt for the SVG's element ids. Each file is written under a temporary name and renamed,
    so a reader never sees half of one. Returns the paths written."""
    import matplotlib
    from pathlib import Path

    from .files import atomic_path

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    metadata = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
    with matplotlib.rc_context({"svg.hashsalt": "rmr1", "svg.fonttype": "path"}):
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight", metadata=metadata.get(fmt))
            written.append(path)
    return written
