"""Small helpers for what a notebook prints: numbers without float noise, long texts shortened at a word.

Workbook layer (pandas only inside the functions that take a table).
"""

from __future__ import annotations

from typing import Any


def tidy(value: Any, digits: int = 3) -> Any:
    """`value` with float noise removed, recursively: 16.0 -> 16, 8.505471269289652 -> 8.505, 1e-06 stays 1e-06
    (below 0.1 a number keeps `digits` significant digits; other types are kept)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        value = float(value)  # numpy floats print as np.float64(...) inside containers
        if value != value or value in (float("inf"), float("-inf")):  # NaN and infinities stay as they are
            return value
        if value.is_integer():
            return int(value)
        if abs(value) < 0.1:  # small numbers (learning rates, KL) keep `digits` significant digits
            return float(f"{value:.{digits}g}")
        return round(value, digits)
    if isinstance(value, dict):
        return {k: tidy(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(tidy(v, digits) for v in value)
    try:  # numpy scalars
        import numbers

        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return tidy(float(value), digits)
    except TypeError:
        pass
    return value


def tidy_frame(frame, digits: int = 3):
    """A copy of a pandas DataFrame or Series for display: numbers without float noise, whole numbers as integers.

    Floats become their shortest text ('0.281', '5e-07'): pandas would print a float in a mixed column with six
    decimals, which turns 5e-07 into 0.0. Missing values stay missing (so `.fillna` still works).
    """
    import pandas as pd

    def shown(value):
        value = tidy(value, digits)
        return repr(value) if isinstance(value, float) and value == value else value

    def column(series):
        return pd.Series([shown(v) for v in series], index=series.index, name=series.name, dtype=object)

    if isinstance(frame, pd.Series):
        return column(frame)
    return pd.DataFrame({c: column(frame[c]) for c in frame.columns}, index=frame.index, columns=frame.columns)


#: the reader's name of each judge metric (rmr1lib.judging.verdict_metrics, rmr1lib.scoring.pooled_judge_metrics),
#: in the order metrics_table shows them by default. "95% low/high" count every judgement as independent; "by
#: item" counts the judgements of one pair (both orders) or one source item together (judging.clustered_interval).
METRIC_LABELS = {"n": "judgements", "items": "items judged", "accuracy_lenient": "accuracy",
                 "accuracy_ci95_low": "95% low", "accuracy_ci95_high": "95% high",
                 "accuracy_ci95_items_low": "95% low, by item", "accuracy_ci95_items_high": "95% high, by item",
                 "accuracy_preferred_A": "accuracy, preferred shown as A",
                 "accuracy_preferred_B": "accuracy, preferred shown as B", "share_A": "share of A",
                 "position_consistency": "position consistency"}


def metrics_table(metrics: dict, keys=tuple(METRIC_LABELS), digits: int = 3):
    """A display table of judge metrics: one column per entry of `metrics` (a kind of task, a judge, or a tuple of
    both), one row per metric in `keys`, named as in METRIC_LABELS; a metric an entry lacks is left empty."""
    import pandas as pd

    from .errors import ConfigError

    unknown = [k for k in keys if k not in METRIC_LABELS]
    if unknown:
        raise ConfigError(f"metrics_table: no label for {unknown}; known metrics: {list(METRIC_LABELS)}")
    table = pd.DataFrame({name: {METRIC_LABELS[k]: m.get(k) for k in keys} for name, m in metrics.items()},
                         index=[METRIC_LABELS[k] for k in keys])
    return tidy_frame(table, digits)


def shorten(text: str, width: int = 100) -> str:
    """`text` on one line, cut at a word boundary to at most `width` characters, with '…' when cut."""
    flat = " ".join(str(text).split())
    if len(flat) <= width:
        return flat
    cut = flat[: width - 1]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    return cut + "…"
