"""End to end: notebook 02_cor_prompts in the smoke workbook (the session's `smoke_run`, see conftest.py).

Checks the notebook's saved summary (token counts per prompt part, the parsed teacher traces, the tricky
verdict cases) against the library, and that the trace views in the executed notebook are escaped HTML."""

import json

import nbformat
import pytest

from rmr1lib.parsing import parse_verdict
from rmr1lib.prompts import PROMPT_KINDS, describe_prompt_parts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def summary(smoke_run):
    return json.loads(smoke_run.artifact("cor_prompts.json").read_text())


def test_every_prompt_part_is_counted(summary):
    counted = {}
    for rec in summary["part_tokens"]:
        counted.setdefault(rec["kind"], []).append(rec["part"])
        assert rec["tokens"] > 0
    assert set(counted) == set(PROMPT_KINDS)
    for kind in PROMPT_KINDS:
        assert set(describe_prompt_parts(kind)) < set(counted[kind])  # every part, plus the pair block


def test_whole_prompts_are_about_the_sum_of_their_parts(summary):
    for kind, whole in summary["whole_prompt_tokens"].items():
        parts = sum(r["tokens"] for r in summary["part_tokens"] if r["kind"] == kind)
        assert abs(whole - parts) <= 40, kind  # chat template, separators and token boundaries only
    whole = summary["whole_prompt_tokens"]
    # the smoke tokenizer gives every fixed prompt part one token (prompts.fixed_texts), so the kinds differ by
    # their number of parts: the full Chain-of-Rubrics prompt has the most
    assert whole["instruct_cor"] == max(whole.values()) and whole["reasoning_model"] == min(whole.values())
    assert all(r["tokens"] == 1 for r in summary["part_tokens"] if not r["part"].startswith("pair block"))


def test_teacher_traces_parse_completely(summary):
    for name, trace in summary["traces"].items():
        parse = trace["parse"]
        assert parse["complete"] and parse["missing"] == [] and parse["answer"] in ("A", "B")
        assert parse["type"] == {"chat": "Chat", "reasoning": "Reasoning"}[name]
    assert summary["traces"]["chat"]["parse"]["rubric_items"]


def test_tricky_cases_mark_exactly_the_disagreements(summary):
    rows = summary["tricky"]
    assert len(rows) >= 6
    for row in rows:
        assert (row["differ"] == "yes") == (row["strict"] != row["lenient"])
    assert sum(r["differ"] == "yes" for r in rows) >= 3
    assert any(r["differ"] == "" and r["strict"] != "none" for r in rows)
    assert parse_verdict(rows[0]["end of output"], "strict") == rows[0]["strict"]


def test_trace_views_are_escaped_html(smoke_run):
    nb = nbformat.read(smoke_run.notebooks_dir / "02_cor_prompts.ipynb", as_version=4)
    htmls = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             if "text/html" in o.get("data", {})]
    views = [h for h in htmls if "&lt;answer&gt;" in h and "background" in h]
    assert len(views) >= 3  # chat, reasoning and reasoning-model traces
    for view in views:
        assert "<answer>" not in view and "<rubric>" not in view and "<script" not in view.lower()
    assert (smoke_run.figures_dir / "02_prompt_parts.png").stat().st_size > 5_000
