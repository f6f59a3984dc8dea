"""Reading a judge's output: the verdict rules and the Chain-of-Rubrics trace parser (paper sections 3.2-3.3).

Two verdict rules exist in the paper's code, and they disagree on purpose-built cases (docs/paper-settings.md):
    strict   (training reward, paper Eq. 8): look ONLY at the final `window` (80) characters of the output,
             exactly as decoded (no stripping); the exact tag <answer>[[A]]</answer> of exactly one side must be
             there. A tag followed by more than ~60 characters of anything (even whitespace) is not seen.
    lenient  (evaluation): search the whole output for [[A]] and [[B]]; exactly one of them present decides.
             A think block that mentions both tokens therefore gives no verdict.
Both return "A", "B" or None (no verdict: scored 0 at evaluation, -1 as a reward).

`parse_trace` splits a CoR trace into its parts and never raises on the text: malformed, truncated, nested,
repeated or empty text gives a TraceParse whose `missing` lists the expected parts that are absent and whose
`problems` says, in words, what else was wrong. It runs in time linear in the length of the text (a degenerate
judge output of megabytes of repeated tags parses in well under a second). A bad `window` argument is the
caller's mistake, not the judge's: both functions raise ConfigError for it.

Pure core: standard library only.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import ConfigError

VERDICT_MODES = ("strict", "lenient")
STRICT_WINDOW = 80
ANSWER_TAG = {"A": "<answer>[[A]]</answer>", "B": "<answer>[[B]]</answer>"}
LENIENT_TOKEN = {"A": "[[A]]", "B": "[[B]]"}
TRACE_TYPES = ("Reasoning", "Chat")
# Parts a trace must have, by its declared type (None = no recognizable <type>).
EXPECTED_PARTS: dict[Optional[str], tuple[str, ...]] = {
    "Chat": ("rubric", "justify", "eval", "answer"),
    "Reasoning": ("solution", "eval", "answer"),
    None: ("type", "eval", "answer"),
}
RUBRIC_WEIGHT_TOLERANCE = 0.5  # percentage points around 100% that still count as "sums to 100%"


def _check_window(window: Any) -> int:
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        raise ConfigError(f"window must be a positive int (characters at the end of the output), got {window!r}")
    return window


def parse_verdict(text: Any, mode: str, window: int = STRICT_WINDOW) -> Optional[str]:
    """The verdict "A"/"B" under the strict (final `window` chars, exact tag) or lenient rule, else None."""
    if mode not in VERDICT_MODES:
        raise ConfigError(f"unknown verdict mode {mode!r}; choose one of {', '.join(VERDICT_MODES)}")
    _check_window(window)
    if not isinstance(text, str):
        return None
    if mode == "strict":
        haystack, needles = text[-window:], ANSWER_TAG
    else:
        haystack, needles = text, LENIENT_TOKEN
    has_a, has_b = needles["A"] in haystack, needles["B"] in haystack
    if has_a != has_b:
        return "A" if has_a else "B"
    return None


@dataclass(frozen=True)
class AnswerTag:
    """One complete <answer>...</answer> element: where it is and what it holds."""

    start: int
    end: int
    content: str

    @property
    def side(self) -> Optional[str]:
        """"A" or "B" when the content is exactly [[A]] / [[B]], else None."""
        return {"[[A]]": "A", "[[B]]": "B"}.get(self.content)


def _elements(text: str, tag: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every complete <tag>...</tag>, non-overlapping, in order: each element runs from an
    opening tag to the first closing tag after it. One pass over the text (str.find), so linear time."""
    open_t, close_t = f"<{tag}>", f"</{tag}>"
    found, pos = [], 0
    while True:
        start = text.find(open_t, pos)
        if start < 0:
            return found
        end = text.find(close_t, start + len(open_t))
        if end < 0:  # no closing tag after this opening one, so none after any later one either
            return found
        found.append((start, end + len(close_t), text[start + len(open_t):end]))
        pos = end + len(close_t)


def answer_tags(text: Any) -> list[AnswerTag]:
    """Every complete <answer>...</answer> element in `text`, in order (empty for non-str text)."""
    if not isinstance(text, str):
        return []
    return [AnswerTag(start, end, content) for start, end, content in _elements(text, "answer")]


@dataclass
class RubricItem:
    """One rubric criterion and its weight as a fraction (0.4 for "40%"), or None when no weight was given."""

    text: str
    weight: Optional[float]


@dataclass
class TraceParse:
    """The parts of a judge trace; absent parts are None or empty lists, never an exception."""

    type: Optional[str] = None
    rubric: Optional[str] = None
    rubric_items: list[RubricItem] = field(default_factory=list)
    justify: Optional[str] = None
    solution: Optional[str] = None
    eval: Optional[str] = None
    quotes_a: list[str] = field(default_factory=list)
    summaries_a: list[str] = field(default_factory=list)
    quotes_b: list[str] = field(default_factory=list)
    summaries_b: list[str] = field(default_factory=list)
    answer: Optional[str] = None
    think: Optional[str] = None
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every part expected for the trace's type is present (problems may still be listed)."""
        return not self.missing

    @property
    def weights_total(self) -> Optional[float]:
        """Sum of the rubric weights as a fraction (1.0 = 100%), or None when no item has a weight."""
        weights = [item.weight for item in self.rubric_items if item.weight is not None]
        return sum(weights) if weights else None

    @property
    def first_criterion(self) -> str:
        """The text of the rubric's first criterion without its weight, or "" when the rubric has none."""
        return self.rubric_items[0].text.strip() if self.rubric_items else ""

    @property
    def rubric_weighted(self) -> bool:
        """True when the rubric has at least one item and every item carries a weight."""
        return bool(self.rubric_items) and all(item.weight is not None for item in self.rubric_items)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field plus `complete`."""
        out = dataclasses.asdict(self)
        out["complete"] = self.complete
        return out


# ----------------------------------------------------------------------------------------------------------
# Tag scanning
# ----------------------------------------------------------------------------------------------------------
def _first_element(text: str, tag: str, problems: list[str], where: str = "") -> Optional[str]:
    """Stripped content of the first complete <tag>...</tag> in text; anomalies go to `problems`."""
    open_t, close_t = f"<{tag}>", f"</{tag}>"
    n_open, n_close = text.count(open_t), text.count(close_t)
    start = text.find(open_t)
    if start < 0:
        if n_close:
            problems.append(f"{close_t} appears{where} without an opening {open_t}")
        return None
    end = text.find(close_t, start + len(open_t))
    if end < 0:
        problems.append(f"{open_t} is never closed{where} (truncated output?)")
        return None
    content = text[start + len(open_t):end]
    if not content.strip():
        problems.append(f"{open_t} is empty{where}")
    if open_t in content:
        problems.append(f"{open_t} is nested inside another {open_t}{where}; the first closing tag ends it")
    elif n_open > 1:
        problems.append(f"{open_t} appears {n_open} times{where}; the first complete one was used")
    if n_open != n_close:
        problems.append(f"{open_t} opens {n_open} time(s) but {close_t} closes {n_close} time(s){where}")
    return content.strip()


def _all_elements(text: str, tag: str, problems: list[str]) -> list[str]:
    """Stripped contents of every complete <tag>...</tag> (non-overlapping, in order)."""
    found = [content.strip() for _, _, content in _elements(text, tag)]
    if text.count(f"<{tag}>") > len(found):
        problems.append(f"<{tag}> is opened more often than it is closed")
    return found


def _split_think(text: str, problems: list[str]) -> tuple[Optional[str], str]:
    """(think content or None, the rest of the text). Handles the DeepSeek case with only </think> present."""
    close = text.find("</think>")
    open_ = text.find("<think>")
    if close >= 0:
        if 0 <= open_ < close:
            think, before = text[open_ + len("<think>"):close], text[:open_]
        else:  # the chat template opened the think block in the prompt
            think, before = text[:close], ""
        rest = before + text[close + len("</think>"):]
        if "</think>" in rest or "<think>" in rest:
            problems.append("more than one think block; the first one was used")
        return think.strip(), rest
    if open_ >= 0:
        problems.append("<think> is never closed (truncated output?)")
        return None, text[:open_]
    return None, text


# ----------------------------------------------------------------------------------------------------------
# Rubric items
# ----------------------------------------------------------------------------------------------------------
# Matched against stripped lines. Every pattern here is linear: no lazy group before an optional tail, and a
# number starts only where no digit precedes it (else a long run of digits is rescanned from each position).
_NUMBERED = re.compile(r"(?:\d+[.)]|\(\d+\))\s+(?P<body>.+)")
_BULLET = re.compile(r"[-*\u2022+]\s+(?P<body>.+)")
_PERCENT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*%")
_WEIGHT_LABEL = re.compile(r"(?:weight(?:ing)?\s*[:=]?)$", re.I)


def _item_from_line(body: str) -> RubricItem:
    """Split a list-item body into criterion text and weight (last "NN%" in the line, as a fraction)."""
    matches = list(_PERCENT.finditer(body))
    if not matches:
        return RubricItem(body.strip(), None)
    last = matches[-1]
    # Cut the weight together with an enclosing bracket and an optional "weight:" label (the label is looked for
    # in the last few characters only, so this stays linear however long the line is).
    head = body[:last.start()].rstrip()
    label = _WEIGHT_LABEL.search(head[-16:])
    if label:
        head = head[:len(head) - (len(head[-16:]) - label.start())].rstrip()
    if head.endswith(("(", "[")):
        head = head[:-1]
    tail = body[last.end():].lstrip()
    if tail.startswith((")", "]")):
        tail = tail[1:]
    text = head + " " + tail
    text = re.sub(r"\s+", " ", text).strip(" \t-:\u2013\u2014,;")
    return RubricItem(text, float(last.group(1)) / 100.0)


def _rubric_items(rubric: str, problems: list[str]) -> list[RubricItem]:
    """List items of a rubric outside its <justify> block; numbered items win over bullets (sub-points)."""
    outside = re.sub(r"<justify>.*?(</justify>|$)", "", rubric, flags=re.S)
    lines = [line.strip() for line in outside.splitlines()]
    numbered = [m.group("body") for m in map(_NUMBERED.match, lines) if m]
    bodies = numbered or [m.group("body") for m in map(_BULLET.match, lines) if m]
    items = [_item_from_line(body) for body in bodies]
    if not items:
        problems.append("the rubric has no list items (criteria written as '1. ... (40%)')")
        return items
    weights = [item.weight for item in items if item.weight is not None]
    if not weights:
        problems.append("no rubric item carries a percentage weight")
        return items
    if len(weights) < len(items):
        problems.append(f"{len(items) - len(weights)} of {len(items)} rubric items have no weight")
    total = 100.0 * sum(weights)
    if abs(total - 100.0) > RUBRIC_WEIGHT_TOLERANCE:
        problems.append(f"rubric weights add up to {total:g}%, not 100%")
    return items


# ----------------------------------------------------------------------------------------------------------
# The trace parser
# ----------------------------------------------------------------------------------------------------------
def _diagnose_answer(text: str, window: int, problems: list[str]) -> None:
    """Say why the strict rule found no verdict (nothing is added when there simply is no answer tag)."""
    tags = answer_tags(text)
    if "<answer>" in text and not tags:
        problems.append("<answer> is never closed (truncated output?)")
        return
    if not tags:
        return
    in_window = [t for t in tags if t.start >= len(text) - window]
    if any(t.side is None for t in tags):
        bad = next(t.content for t in tags if t.side is None)
        problems.append(f"an answer tag holds {bad[:40]!r}; expected exactly [[A]] or [[B]]")
    if not in_window:
        problems.append(f"an answer tag is present but not within the final {window} characters")
    elif {t.side for t in in_window} >= {"A", "B"}:
        problems.append(f"both verdict tags appear in the final {window} characters")


def parse_trace(text: Any, window: int = STRICT_WINDOW) -> TraceParse:
    """Split a judge trace into its tagged parts; never raises on malformed or truncated text (linear time).

    A `window` that is not a positive int raises ConfigError, as in parse_verdict.
    """
    _check_window(window)
    parse = TraceParse()
    problems = parse.problems
    if not isinstance(text, str):
        problems.append(f"the output is not text (got {type(text).__name__})")
        text = ""
    if not text.strip():
        problems.append("the output is empty")

    parse.think, body = _split_think(text, problems)

    raw_type = _first_element(body, "type", problems)
    if raw_type is not None:
        parse.type = next((t for t in TRACE_TYPES if raw_type.lower() == t.lower()), None)
        if parse.type is None:
            problems.append(f"<type> holds {raw_type[:40]!r}; expected Reasoning or Chat")

    parse.rubric = _first_element(body, "rubric", problems)
    if parse.rubric is not None:
        parse.justify = _first_element(parse.rubric, "justify", problems, " inside the rubric")
        parse.rubric_items = _rubric_items(parse.rubric, problems)
    if parse.justify is None:
        outside = _first_element(body, "justify", [])
        if outside is not None:
            parse.justify = outside
            if parse.rubric is not None:
                problems.append("<justify> is outside the rubric (it belongs inside <rubric>)")

    parse.solution = _first_element(body, "solution", problems)
    parse.eval = _first_element(body, "eval", problems)
    parse.quotes_a = _all_elements(body, "quote_A", problems)
    parse.summaries_a = _all_elements(body, "summary_A", problems)
    parse.quotes_b = _all_elements(body, "quote_B", problems)
    parse.summaries_b = _all_elements(body, "summary_B", problems)

    parse.answer = parse_verdict(text, "strict", window)
    if parse.answer is None:
        _diagnose_answer(text, window, problems)

    expected = EXPECTED_PARTS[parse.type]
    parse.missing = [part for part in expected if not getattr(parse, part)]
    return parse
