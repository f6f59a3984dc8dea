"""Figures say what the notebooks say they show: readable labels, chance lines, nothing hidden or missing."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from rmr1lib import figures, rl  # noqa: E402


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()]


def _legend_labels(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_pipeline_figure_names_only_notebooks_that_exist():
    assert figures.notebook_label("04/05", {"04", "05"}) == "notebooks 04, 05"
    assert figures.notebook_label("04/05", {"04"}) == "notebook 04"
    assert figures.notebook_label("07", {"00", "01"}) == ""
    fig = figures.pipeline_figure(available={"01", "02", "03", "06"})
    shown = [t.get_text() for t in fig.axes[0].texts]
    assert "notebook 01" in shown and "notebook 06" in shown
    assert not any(t.startswith("notebook") and "04" in t for t in shown)
    assert "00" in figures.existing_notebooks() and "06" in figures.existing_notebooks()


def test_judge_metrics_figure_has_readable_labels_a_chance_line_and_a_clean_legend():
    metrics = {"before SFT": {"parse_rate_lenient": 0.0, "accuracy_lenient": 0.0, "accuracy_strict": 0.0},
               "after SFT": {"parse_rate_lenient": 1.0, "accuracy_lenient": 0.28, "accuracy_strict": 0.28}}
    fig = figures.judge_metrics_figure(metrics, n=32)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["readable verdict (lenient)", "accuracy (lenient)", "accuracy (strict)"]
    assert not any("_" in t for t in ticks)
    labels = _legend_labels(ax)
    assert labels == ["before SFT", "after SFT", "coin flip (0.5)", "95% coin-flip band, n=32"]
    assert all(label.strip() for label in labels)
    legend_box = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    axes_box = ax.get_window_extent(fig.canvas.get_renderer())
    assert legend_box.x0 >= axes_box.x1 - 1  # beside the bars, never over them
    chance = [line for line in ax.lines if list(line.get_xdata()) == [0.5, 0.5]]
    assert len(chance) == 2  # one per accuracy row


def test_grpo_curves_label_the_rolling_mean_and_never_hide_a_rule():
    rows = [{"step": s, "reward": (-1) ** s * 0.5, "kl": 0.01 * s, "heldout/accuracy_strict": 0.25,
             "heldout/accuracy_lenient": 0.25} for s in range(8)]
    fig = rl.plot_grpo_curves(rows)
    reward_ax, heldout_ax = fig.axes[0], fig.axes[5]
    assert [line.get_label() for line in reward_ax.lines][-1] == "rolling mean (5 steps)"
    assert "black line: rolling mean over 5 steps" in fig._suptitle.get_text()
    assert _legend_labels(heldout_ax)[0] == "strict = lenient rule (identical here)"
    assert "coin flip (0.5)" in _legend_labels(heldout_ax)
    tick = reward_ax.get_xticklabels()[0].get_fontsize()
    assert reward_ax.title.get_fontsize() > tick
    for r in rows:
        r["heldout/accuracy_lenient"] = 0.5
    labels = _legend_labels(rl.plot_grpo_curves(rows).axes[5])
    assert labels[:2] == ["strict rule", "lenient rule"]


def test_rmbench_heatmap_spells_out_the_styles_at_a_readable_size():
    fig = figures.rmbench_heatmap({"chat": [[0.5] * 3] * 3, "math": [[0.5] * 3] * 3})
    assert "detailed\nplain" in _texts(fig) and "detailed\nmarkdown" in _texts(fig)
    sizes = {t.get_fontsize() for ax in fig.axes[1:] for t in ax.get_xticklabels()}
    assert min(sizes) >= 10


def test_paper_comparison_figure_draws_the_chance_line():
    rows = [{"benchmark": "rewardbench", "metric": "score", "paper": 0.85, "ours": 0.5, "model": "m"},
            {"benchmark": "average", "metric": "score", "paper": 0.8, "ours": None, "model": "m"}]
    ax = figures.paper_comparison_figure(rows).axes[0]
    assert any(list(line.get_ydata()) == [0.5, 0.5] for line in ax.lines)
    assert "coin flip on a pair (0.5)" in _legend_labels(ax)
    with pytest.raises(ValueError):
        figures.paper_comparison_figure([])
