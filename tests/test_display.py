"""What notebooks print: no float noise, texts shortened at a word, never mid-word without a mark."""

import math

import numpy as np
import pandas as pd
import pytest

from rmr1lib.display import shorten, tidy, tidy_frame
from rmr1lib.errors import ConfigError


def test_tidy_removes_float_noise_recursively_and_keeps_other_values():
    assert tidy({"a": 16.0, "b": 8.505471269289652, "c": [1.0, np.float64(2.5), np.int64(3)], "d": True,
                 "e": None, "f": "x"}) == {"a": 16, "b": 8.505, "c": [1, 2.5, 3], "d": True, "e": None, "f": "x"}
    assert type(tidy(np.float64(2.0))) is int and type(tidy(np.float64(2.25))) is float
    assert tidy((0.1 + 0.2,)) == (0.3,)
    assert tidy(1e-06) == 1e-06 and tidy(7.551234e-05) == 7.55e-05 and tidy(0.0625) == 0.0625  # never rounded to 0
    assert math.isnan(tidy(float("nan")))


def test_tidy_frame_prints_whole_numbers_as_integers():
    metrics = pd.DataFrame({"before": {"n": 32, "accuracy": 0.28125, "mean_chars": 46.0},
                            "after": {"n": 32, "accuracy": 0.5, "mean_chars": 8.505471269289652}})
    text = tidy_frame(metrics).to_string()
    assert "32.0" not in text and "46.0" not in text and "8.505471" not in text
    assert "0.281" in text and "8.505" in text
    assert tidy_frame(metrics["before"]).to_string().split() == ["n", "32", "accuracy", "0.281", "mean_chars", "46"]
    rates = tidy_frame(pd.DataFrame({"lr": [1e-06, 7e-07, 5e-07], "other": [0.5, 3, None]}))
    assert rates["lr"].tolist() == ["1e-06", "7e-07", "5e-07"]  # never printed as 0.000001 / 0.0
    assert "1e-06" in rates.to_html() and "0.000001" not in rates.to_html()
    assert rates["other"].fillna("").tolist() == ["0.5", 3, ""]


def test_shorten_cuts_at_a_word_and_marks_the_cut():
    assert shorten("short text") == "short text"
    assert shorten("a  b\n c") == "a b c"
    long = "the quick brown fox jumps over the lazy dog " * 5
    cut = shorten(long, 30)
    assert len(cut) <= 30 and cut.endswith("…") and long.startswith(cut[:-1])
    assert not cut[:-1].endswith(" ")


def test_metrics_table_names_rows_and_keeps_columns():
    from rmr1lib.display import METRIC_LABELS, metrics_table

    metrics = {("chat", "start"): {"n": 10, "accuracy_lenient": 0.6000000001, "share_A": 0.5},
               ("chat", "after"): {"n": 10, "accuracy_lenient": 0.7, "share_A": 0.45, "position_consistency": 0.4}}
    table = metrics_table(metrics, ("n", "accuracy_lenient", "position_consistency"))
    assert list(table.index) == ["judgements", "accuracy", "position consistency"]
    assert list(table.columns) == [("chat", "start"), ("chat", "after")]
    assert table[("chat", "start")].tolist()[:2] == [10, "0.6"]  # tidied: no float noise
    assert table[("chat", "start")].isna().tolist() == [False, False, True]  # a metric the entry lacks stays empty
    assert list(metrics_table({"safety": {}}).index) == list(METRIC_LABELS.values())
    with pytest.raises(ConfigError, match="accuracy_strict"):
        metrics_table(metrics, ("n", "accuracy_strict"))
