"""The RM-R1 training data: the preference mix, the released sets, and the checks in between (paper §4, Table 5).

The paper trains on about 73K preference pairs built from three public sources (paper §4; docs/paper-settings.md):

    skywork    Skywork/Skywork-Reward-Preference-80K-v0.2: `chosen` and `rejected` are whole conversations,
               `source` names the sub-collection. Rows from magpie_ultra are dropped (its rejected answers carry
               a chat-template token and are always multi-turn: a spurious cue). Pairs whose conversations are
               exactly [user, assistant] get the single-turn prompt layout, all others the multi-turn one.
    code_pref  Vezora/Code-Preference-Pairs: `input`, `accepted`, `rejected` strings; shuffled with seed 42 and
               cut to 8,000 rows (the shuffle is the one `datasets.Dataset.shuffle(seed=42)` does).
    math_dpo   xinlai/Math-Step-DPO-10K, every row: each response is the shared `initial_reason_steps`
               followed by the full chosen (`full_chosen`) or rejected (`full_rejected`) continuation.

Every source goes through the same steps, and so does the smoke profile's synthetic generator (the `synthetic`
source), which only replaces the download:

    read records -> convert to Preference (checks every field) -> de-duplicate -> place A/B and render the
    judge prompt (prompts.build_messages) -> drop prompts longer than data.max_prompt_tokens -> split
    train / held-out (grouped by client question, so a question never sits on both sides).

A/B placement is seeded random by default (the seed is recorded in each row's meta and in the report); the
reference's alternation by global index (even -> chosen is A) is the option `placement="alternate"`.

Bad rows (missing fields, empty or identical responses, unknown roles, labels outside model_a/model_b, ...) are
never silently kept or dropped: by default the build stops with a `BadRowError` naming the source, the file or
hub id, the row and the field; with `skip_bad_rows=True` they are dropped and counted in the report's reasons
table. Rows the recipe leaves out on purpose (magpie_ultra, code rows beyond 8,000) are counted too.

The released sets (gaotang/RM-R1-Distill-SFT, RM-R1-after-Distill-RLVR, RM-R1-Reasoning-RLVR) already hold the
rendered prompt (`context_messages`) and `winner`; `load_released` checks their schema with the same rules.

Pure core: the standard library only. The hub is reached through `datasets.load_dataset`, imported inside
`hub_records` only, so nothing here imports datasets, pandas or torch at module load, and the smoke path
never touches it. Token counts come from a `tokens` object passed in (rmr1lib.tokens.TokenCounter).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Protocol, Sequence

from .errors import ConfigError, DataError, OfflineError
from .files import content_hash, iter_jsonl, local_path
from .parsing import parse_verdict
from .hubids import RELEASED_DATASETS, SOURCE_DATASETS
from .profiles import DataConfig, Profile
from .authors import AuthorsTemplate, label_leak, learn_authors_template, normalise_label_leak
from .prompts import AUTHORS_KIND, PLACEMENTS, ROLES, build_messages, check_prompt_kind, is_single_turn, validate_pair
from .sources import authors_source, released_set_for

__all__ = [
    "WINNERS", "PAIR_SOURCES", "RELEASED_SETS", "SKYWORK_CATEGORIES", "SKYWORK_DROPPED",
    "BAD_ROW_REASONS", "SourceSpec", "ReleasedSpec", "Preference", "BadRowError", "RecipeExclusion", "Drop",
    "MixReport", "Mix",
    "read_source_file", "hub_records", "shuffled_indices", "convert_record", "convert_records", "place_pair",
    "preference_to_row", "deduplicate", "filter_by_length", "split_rows", "validate_training_row", "load_released",
    "released_set_for", "synthetic_records", "build_mix", "pair_summary", "heldout_coverage",
    "describe_heldout_coverage", "source_table",
    "authors_source_for", "authors_template", "authors_template_from_hub", "exclude_distilled",
]

WINNERS = ("model_a", "model_b")
SYNTHETIC = "synthetic"
SYNTHETIC_OVERSAMPLE = 1.25  # synthetic pairs repeat now and then; generate a margin so the caps are still met


# ----------------------------------------------------------------------------------------------------------
# What the sources are
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceSpec:
    """One raw preference source: where it lives, the fields a record needs, and the paper's recipe for it."""

    name: str
    hub_id: str
    fields: tuple[str, ...]
    category: str
    recipe: str
    paper_rows: int


PAIR_SOURCES: dict[str, SourceSpec] = {
    "skywork": SourceSpec(
        "skywork", SOURCE_DATASETS["skywork"], ("chosen", "rejected", "source"), "by sub-source",
        "drop magpie_ultra; single-turn layout when both are [user, assistant], else multi-turn", 54_146),
    "code_pref": SourceSpec(
        "code_pref", SOURCE_DATASETS["code_pref"], ("input", "accepted", "rejected"), "code",
        "shuffle with seed 42, keep 8,000 rows", 8_000),
    "math_dpo": SourceSpec(
        "math_dpo", SOURCE_DATASETS["math_dpo"],
        ("prompt", "initial_reason_steps", "full_chosen", "full_rejected"), "math",
        "every row; response = initial_reason_steps + full_chosen / full_rejected", 10_000),
}

# Skywork sub-collections and the category the paper gives each (Table 5); magpie_ultra is dropped.
SKYWORK_CATEGORIES = {
    "magpie_pro_llama3.1": "reasoning", "offset_bias": "chat", "helpsteer2": "chat", "wildguard": "safety",
    "magpie_pro": "chat",
}
SKYWORK_DROPPED = ("magpie_ultra",)
SKYWORK_OTHER = "other"  # a sub-collection the paper's table does not name: kept, and visible in the composition


@dataclass(frozen=True)
class ReleasedSpec:
    """One released RM-R1 dataset on the hub."""

    name: str
    hub_id: str
    rows: int
    use: str


RELEASED_SETS: dict[str, ReleasedSpec] = {
    "distill_sft": ReleasedSpec("distill_sft", RELEASED_DATASETS["distill_sft"], 8_753,
                                "distillation SFT; `winner` holds the teacher's whole trace"),
    "after_distill_rlvr": ReleasedSpec("after_distill_rlvr", RELEASED_DATASETS["after_distill_rlvr"], 64_226,
                                       "RLVR for the Qwen2.5-Instruct judges (after distillation)"),
    "reasoning_rlvr": ReleasedSpec("reasoning_rlvr", RELEASED_DATASETS["reasoning_rlvr"], 72_983,
                                   "RLVR for the DeepSeek-R1-distilled judges (no distillation)"),
}

BAD_ROW_REASONS = {
    "invalid_json": "the line is not valid JSON",
    "missing_field": "a required field is absent (or null)",
    "wrong_type": "a field has the wrong type",
    "empty_response": "a response, the question or a trace is empty",
    "identical_responses": "the chosen and the rejected response are the same text",
    "unknown_role": "a message role is not system, user or assistant",
    "malformed_conversation": "a conversation is empty, lacks a user turn or does not end with the response",
    "mismatched_turns": "the two conversations do not share the client's turns",
    "bad_label": "winner is not model_a or model_b (or a trace has no readable verdict)",
}


# ----------------------------------------------------------------------------------------------------------
# Rows, errors and the report
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Preference:
    """One converted preference pair before A/B placement: the chosen and the rejected conversation."""

    id: str
    source: str
    category: str
    chosen: list
    rejected: list
    meta: dict = field(default_factory=dict)
    index: int = 0  # position in the mix (the reference's alternation counts this)


class BadRowError(DataError):
    """A source record that breaks the schema; says which source, file or hub id, row and field."""

    def __init__(self, source: str, origin: str, row: int, field_name: str, reason: str, detail: str,
                 line: Optional[int] = None):
        self.source, self.origin, self.row, self.field, self.reason, self.detail, self.line = (
            source, origin, row, field_name, reason, detail, line)
        where = f"row {row}" + (f" (line {line})" if line is not None else "")
        super().__init__(
            f"{source} ({origin}), {where}, field {field_name!r}: {detail} [{reason}]. Fix or remove the row, "
            "or set data.skip_bad_rows: true to drop such rows and get a table of reasons."
        )


class _Bad(Exception):
    """Raised inside converters; convert_record adds the source, origin and row."""

    def __init__(self, field_name: str, reason: str, detail: str):
        super().__init__(detail)
        self.field, self.reason, self.detail = field_name, reason, detail


@dataclass
class Drop:
    """One row left out of the mix, and why."""

    stage: str      # convert | recipe | dedup | length | split
    source: str
    reason: str
    row: Any = None
    field: str = ""
    detail: str = ""

    def as_dict(self) -> dict:
        """Plain-data copy."""
        return dict(stage=self.stage, source=self.source, reason=self.reason, row=self.row, field=self.field,
                    detail=self.detail)


@dataclass
class MixReport:
    """What a build did: settings, rows per stage and source, and every row it left out with the reason."""

    data_source: str = ""
    prompt_kind: str = ""
    placement: str = ""
    placement_seed: int = 0
    max_prompt_tokens: int = 0
    skip_bad_rows: bool = False
    origins: dict = field(default_factory=dict)       # source -> file path, hub id or generator
    loaded: dict = field(default_factory=dict)        # source -> records read
    drops: list = field(default_factory=list)         # list[Drop]
    counts: dict = field(default_factory=dict)        # stage -> rows remaining after it
    notes: list = field(default_factory=list)
    label_leak: dict = field(default_factory=dict)    # released sets: the misspelt side name, counted (and fixed?)

    def reasons_table(self) -> list[dict]:
        """One row per (stage, source, reason, field) with its count and the first affected row."""
        table: dict[tuple, dict] = {}
        for d in self.drops:
            key = (d.stage, d.source, d.reason, d.field)
            if key not in table:
                table[key] = {"stage": d.stage, "source": d.source, "reason": d.reason, "field": d.field,
                              "count": 0, "first_row": d.row, "example": d.detail}
            table[key]["count"] += 1
        return sorted(table.values(), key=lambda r: (_STAGES.index(r["stage"]), r["source"], -r["count"]))

    def dropped(self, stage: Optional[str] = None, reason: Optional[str] = None) -> int:
        """How many rows were left out, optionally only at one stage and/or for one reason."""
        return sum(1 for d in self.drops if (stage is None or d.stage == stage)
                   and (reason is None or d.reason == reason))

    def as_dict(self) -> dict:
        """JSON-ready copy (drops aggregated into the reasons table)."""
        return {
            "data_source": self.data_source, "prompt_kind": self.prompt_kind, "placement": self.placement,
            "placement_seed": self.placement_seed, "max_prompt_tokens": self.max_prompt_tokens,
            "skip_bad_rows": self.skip_bad_rows, "origins": dict(self.origins), "loaded": dict(self.loaded),
            "counts": dict(self.counts), "reasons": self.reasons_table(), "notes": list(self.notes),
            "label_leak": dict(self.label_leak),
        }


_STAGES = ("convert", "recipe", "dedup", "length", "split")


@dataclass
class Mix:
    """The result of build_mix: training rows, held-out rows (RM-R1 schema) and the report."""

    train: list
    heldout: list
    report: MixReport


class TokenCounting(Protocol):
    """What build_mix needs from a tokenizer (rmr1lib.tokens.TokenCounter provides it)."""

    def prompts(self, conversations: Sequence[Sequence[dict]]) -> list[int]: ...

    def texts(self, texts: Sequence[str]) -> list[int]: ...


# ----------------------------------------------------------------------------------------------------------
# Reading records
# ----------------------------------------------------------------------------------------------------------
def read_source_file(path: Any) -> Iterator[tuple[int, Optional[int], Any]]:
    """(row, line, record) for every record of a JSON Lines (or JSON list) file; a bad line yields a DataError."""
    path = Path(path)
    if path.suffix == ".json":
        if not path.is_file():
            raise DataError(f"source file {path} does not exist")
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(records, list):
            raise DataError(f"{path}: a .json source file must hold a list of records")
        for row, record in enumerate(records):
            yield row, None, record
        return
    bad = lambda number, reason: _Bad("(line)", "invalid_json", reason)  # noqa: E731 - kept or skipped later
    for row, (line_no, record) in enumerate(iter_jsonl(path, on_bad=bad, what="source file (JSON Lines)")):
        yield row, line_no, record


def hub_records(hub_id: str, split: str = "train"):
    """A hub dataset through `datasets.load_dataset` (imported here only); OfflineError says what to do offline."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is in the lock
        raise ConfigError("loading a hub dataset needs the `datasets` package (pip install datasets)") from None
    try:
        return datasets.load_dataset(hub_id, split=split)
    except Exception as exc:  # noqa: BLE001 - every failure here means the same thing to the user
        raise OfflineError(
            f"could not load {hub_id!r} (split {split!r}) through datasets.load_dataset: {type(exc).__name__}: "
            f"{exc}. Offline? Download it on a machine with network (`huggingface-cli download --repo-type "
            f"dataset {hub_id}`), export it as JSON Lines and point data.sources_dir at the folder "
            "(<source>.jsonl), or unset HF_DATASETS_OFFLINE."
        ) from None


def shuffled_indices(n: int, seed: int) -> list[int]:
    """The row order `datasets.Dataset.shuffle(seed=seed)` produces (NumPy's default_rng permutation)."""
    import numpy as np  # numpy only here: the permutation must match the one the paper's recipe used

    return [int(i) for i in np.random.default_rng(seed).permutation(n)]


def _rows(records: Iterable[Any]) -> Iterator[tuple[int, Optional[int], Any]]:
    """Accept plain records or (row, line, record) triples."""
    for row, item in enumerate(records):
        if isinstance(item, tuple) and len(item) == 3:
            yield item
        else:
            yield row, None, item


# ----------------------------------------------------------------------------------------------------------
# Field checks shared by every converter (the names are the source's own field names)
# ----------------------------------------------------------------------------------------------------------
def _require(record: Any, name: str) -> Any:
    if not isinstance(record, dict):
        raise _Bad("(record)", "wrong_type", f"a record must be a JSON object, got {type(record).__name__}")
    if record.get(name) is None:
        present = ", ".join(sorted(map(str, record))) or "none"
        raise _Bad(name, "missing_field", f"field {name!r} is missing (fields present: {present})")
    return record[name]


def _text(record: Any, name: str, allow_empty: bool = False) -> str:
    value = _require(record, name)
    if not isinstance(value, str):
        raise _Bad(name, "wrong_type", f"expected a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise _Bad(name, "empty_response", "the text is empty")
    return value


def _messages(value: Any, name: str) -> list[dict]:
    """A clean copy of a list of {role, content} messages; _Bad names the index and key that is wrong."""
    if not isinstance(value, list):
        raise _Bad(name, "wrong_type", f"expected a list of {{role, content}} messages, got {type(value).__name__}")
    if not value:
        raise _Bad(name, "malformed_conversation", "the conversation is empty")
    clean = []
    for i, message in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(message, dict):
            raise _Bad(where, "wrong_type", f"a message must be an object, got {type(message).__name__}")
        for key in ("role", "content"):
            if message.get(key) is None:
                raise _Bad(f"{where}.{key}", "missing_field", f"message {i} has no {key!r}")
        if message["role"] not in ROLES:
            raise _Bad(f"{where}.role", "unknown_role",
                       f"role {message['role']!r} is not one of {', '.join(ROLES)}")
        if not isinstance(message["content"], str):
            raise _Bad(f"{where}.content", "wrong_type",
                       f"content must be a string, got {type(message['content']).__name__}")
        clean.append({"role": message["role"], "content": message["content"]})
    return clean


def _check_pair(chosen: list, rejected: list, names: tuple[str, str]) -> None:
    """Both conversations end with a non-empty response, share the client's turns, and differ in the response."""
    for conv, name in zip((chosen, rejected), names):
        last = len(conv) - 1
        if conv[last]["role"] != "assistant":
            raise _Bad(f"{name}[{last}].role", "malformed_conversation",
                       f"the last message must be the assistant's response, not {conv[last]['role']!r}")
        if not any(m["role"] == "user" for m in conv):
            raise _Bad(name, "malformed_conversation", "there is no user turn (no client question)")
        if not conv[last]["content"].strip():
            raise _Bad(f"{name}[{last}].content", "empty_response", "the response is empty")
        if not any(m["content"].strip() for m in conv if m["role"] == "user"):
            raise _Bad(name, "empty_response", "every user turn is empty (no client question)")
    try:
        validate_pair(chosen, rejected)
    except DataError as exc:
        raise _Bad(f"{names[0]}/{names[1]}", "mismatched_turns", str(exc)) from None
    if chosen[-1]["content"].strip() == rejected[-1]["content"].strip():
        raise _Bad(names[1], "identical_responses", "the rejected response is the same text as the chosen one")


def _label(value: Any, name: str = "winner") -> str:
    if value is None:
        raise _Bad(name, "missing_field", f"field {name!r} is missing")
    if value not in WINNERS:
        raise _Bad(name, "bad_label", f"{value!r} is not one of {', '.join(WINNERS)}")
    return value


# ----------------------------------------------------------------------------------------------------------
# Converters: one source record -> Preference (None = left out by the paper's recipe, with a reason)
# ----------------------------------------------------------------------------------------------------------
class RecipeExclusion(Exception):
    """Raised by convert_record for a record the paper's recipe leaves out on purpose (not a bad row)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _convert_skywork(record: Any, row: int) -> Preference:
    sub = _text(record, "source")
    if sub in SKYWORK_DROPPED:
        raise RecipeExclusion(f"excluded_{sub}", f"sub-source {sub} is dropped (spurious chat-template cue)")
    chosen = _messages(_require(record, "chosen"), "chosen")
    rejected = _messages(_require(record, "rejected"), "rejected")
    _check_pair(chosen, rejected, ("chosen", "rejected"))
    return Preference(f"skywork-{row:06d}", "skywork", SKYWORK_CATEGORIES.get(sub, SKYWORK_OTHER), chosen,
                      rejected, {"sub_source": sub, "source_row": row})


def _convert_code(record: Any, row: int) -> Preference:
    question = _text(record, "input")
    accepted, rejected = _text(record, "accepted"), _text(record, "rejected")
    user = {"role": "user", "content": question}
    chosen = [user, {"role": "assistant", "content": accepted}]
    worse = [dict(user), {"role": "assistant", "content": rejected}]
    _check_pair(chosen, worse, ("accepted", "rejected"))
    return Preference(f"code_pref-{row:06d}", "code_pref", "code", chosen, worse, {"source_row": row})


def _join_steps(steps: str, continuation: str) -> str:
    """Shared reasoning steps followed by a continuation (a newline between them when neither side has one)."""
    if not steps or steps[-1].isspace() or continuation[:1].isspace():
        return steps + continuation
    return steps + "\n" + continuation


def _convert_math(record: Any, row: int) -> Preference:
    question = _text(record, "prompt")
    steps = _text(record, "initial_reason_steps", allow_empty=True)
    good, bad = _text(record, "full_chosen"), _text(record, "full_rejected")
    user = {"role": "user", "content": question}
    chosen = [user, {"role": "assistant", "content": _join_steps(steps, good)}]
    rejected = [dict(user), {"role": "assistant", "content": _join_steps(steps, bad)}]
    _check_pair(chosen, rejected, ("full_chosen", "full_rejected"))
    meta = {"source_row": row}
    for key in ("answer", "dataset"):
        if isinstance(record.get(key), str):
            meta["reference_answer" if key == "answer" else "sub_source"] = record[key]
    return Preference(f"math_dpo-{row:06d}", "math_dpo", "math", chosen, rejected, meta)


_SIDE_KEYS = ("chosen", "check", "placement", "placement_seed", "prompt_kind")


def _convert_synthetic(record: Any, row: int) -> Preference:
    """A make_pairs row back to chosen/rejected; A/B placement is then redone like for every other source."""
    winner = _label(_require(record, "winner"))
    conv_a = _messages(_require(record, "conversation_a"), "conversation_a")
    conv_b = _messages(_require(record, "conversation_b"), "conversation_b")
    chosen, rejected = (conv_a, conv_b) if winner == "model_a" else (conv_b, conv_a)
    names = ("conversation_a", "conversation_b") if winner == "model_a" else ("conversation_b", "conversation_a")
    _check_pair(chosen, rejected, names)
    meta = dict(record.get("meta") or {})
    side = "A" if winner == "model_a" else "B"
    check = meta.get("check")
    for key in _SIDE_KEYS:  # everything tied to the generator's own placement; place_pair records ours
        meta.pop(key, None)
    if isinstance(check, dict) and set(check) == {"A", "B"}:
        meta["check_chosen"], meta["check_rejected"] = check[side], check["B" if side == "A" else "A"]
    category = record.get("category") if isinstance(record.get("category"), str) else "chat"
    return Preference(str(record.get("id") or f"synthetic-{row:06d}"), str(record.get("source") or SYNTHETIC),
                      category, chosen, rejected, meta)


_CONVERTERS: dict[str, Callable[[Any, int], Preference]] = {
    "skywork": _convert_skywork, "code_pref": _convert_code, "math_dpo": _convert_math,
    SYNTHETIC: _convert_synthetic,
}


def convert_record(source: str, record: Any, row: int, origin: str = "", line: Optional[int] = None) -> Preference:
    """Convert one raw record of `source`; BadRowError (source, origin, row, field) if malformed,
    RecipeExclusion if the paper's recipe leaves it out (magpie_ultra)."""
    if source not in _CONVERTERS:
        raise ConfigError(f"unknown source {source!r}; known sources: {', '.join(_CONVERTERS)}")
    if isinstance(record, _Bad):  # a line read_source_file could not parse
        raise BadRowError(source, origin or source, row, record.field, record.reason, record.detail, line)
    try:
        return _CONVERTERS[source](record, row)
    except _Bad as bad:
        raise BadRowError(source, origin or source, row, bad.field, bad.reason, bad.detail, line) from None


def convert_records(source: str, records: Iterable[Any], origin: str = "", *, skip_bad_rows: bool = False,
                    report: Optional[MixReport] = None) -> list[Preference]:
    """Convert every record of one source under the bad-row policy; drops are added to `report`."""
    if source not in _CONVERTERS:
        raise ConfigError(f"unknown source {source!r}; known sources: {', '.join(_CONVERTERS)}")
    return _convert_all(source, records, origin or source, _CONVERTERS[source], skip_bad_rows, report)


def _convert_all(name: str, records: Iterable[Any], origin: str, convert: Callable[[Any, int], Any],
                 skip_bad_rows: bool, report: Optional[MixReport], limit: int = 0) -> list:
    """The bad-row policy, once for every source: a malformed record stops the build with a BadRowError naming
    source, origin, row and field, or (skip_bad_rows) is dropped and counted; recipe exclusions are counted."""
    kept, n = [], 0
    for row, line, record in _rows(records):
        if limit and n >= limit:
            break
        n += 1
        try:
            if isinstance(record, _Bad):  # a line read_source_file could not parse
                raise record
            kept.append(convert(record, row))
        except RecipeExclusion as exc:
            if report is not None:
                report.drops.append(Drop("recipe", name, exc.reason, row, "source", exc.detail))
        except _Bad as bad:
            if not skip_bad_rows:
                raise BadRowError(name, origin, row, bad.field, bad.reason, bad.detail, line) from None
            if report is not None:
                report.drops.append(Drop("convert", name, bad.reason, row, bad.field, bad.detail))
    if report is not None:
        report.loaded[name] = report.loaded.get(name, 0) + n
    return kept


# ----------------------------------------------------------------------------------------------------------
# Placement, rendering, de-duplication, length filter, split
# ----------------------------------------------------------------------------------------------------------
def place_pair(pref: Preference, placement: str, seed: int) -> tuple[list, list, str]:
    """(conversation_a, conversation_b, winner): random (seeded per pair id) or alternating by mix index."""
    if placement == "alternate":
        chosen_first = pref.index % 2 == 0
    elif placement == "random":
        chosen_first = random.Random(f"rmr1-placement|{seed}|{pref.id}").random() < 0.5
    else:
        raise ConfigError(f"unknown placement {placement!r}; choose one of {', '.join(PLACEMENTS)}")
    if chosen_first:
        return pref.chosen, pref.rejected, "model_a"
    return pref.rejected, pref.chosen, "model_b"


def preference_to_row(pref: Preference, prompt_kind: str, placement: str, seed: int) -> dict:
    """The RM-R1 row of a preference: placed A/B, judge prompt rendered with `prompt_kind`, provenance in meta."""
    conv_a, conv_b, winner = place_pair(pref, placement, seed)
    meta = dict(pref.meta)
    meta.update(placement=placement, placement_seed=seed, chosen="A" if winner == "model_a" else "B",
                mix_index=pref.index, prompt_kind=prompt_kind)
    return {
        "id": pref.id,
        "context_messages": build_messages(prompt_kind, conv_a, conv_b),
        "winner": winner,
        "source": pref.source,
        "category": pref.category,
        "turns": "single" if is_single_turn(conv_a, conv_b) else "multi",
        "conversation_a": [dict(m) for m in conv_a],
        "conversation_b": [dict(m) for m in conv_b],
        "meta": meta,
    }


def _client_key(conversation: Sequence[dict]) -> str:
    """The client's side of a conversation (every message before the final response)."""
    return content_hash([[m["role"], m["content"].strip()] for m in conversation[:-1]])


def deduplicate(prefs: Sequence[Preference]) -> tuple[list[Preference], list[Drop]]:
    """Drop repeated pairs (same client turns, same two responses); drop both sides of contradicting labels."""
    first: dict[str, int] = {}
    flipped: set[str] = set()
    drops: list[Drop] = []
    keep: list[Optional[Preference]] = []
    for p in prefs:
        ctx = _client_key(p.chosen)
        good, bad = p.chosen[-1]["content"].strip(), p.rejected[-1]["content"].strip()
        key, reverse = content_hash([ctx, good, bad]), content_hash([ctx, bad, good])
        if key in first:
            drops.append(Drop("dedup", p.source, "duplicate", p.id, "", f"same pair as {keep[first[key]].id}"))
            keep.append(None)
            continue
        if reverse in first:
            flipped.add(reverse)
            drops.append(Drop("dedup", p.source, "contradicting_labels", p.id, "",
                              "the same two responses appear earlier with the opposite preference"))
            keep.append(None)
            continue
        first[key] = len(keep)
        keep.append(p)
    out = []
    for p in keep:
        if p is None:
            continue
        key = content_hash([_client_key(p.chosen), p.chosen[-1]["content"].strip(), p.rejected[-1]["content"].strip()])
        if key in flipped:
            drops.append(Drop("dedup", p.source, "contradicting_labels", p.id, "",
                              "the same two responses appear later with the opposite preference"))
            continue
        out.append(p)
    return out, drops


def filter_by_length(rows: Sequence[dict], tokens: TokenCounting, max_prompt_tokens: int) -> tuple[list, list]:
    """Count each rendered prompt (and response) in tokens; drop prompts longer than `max_prompt_tokens`."""
    counts = tokens.prompts([r["context_messages"] for r in rows]) if rows else []
    kept, drops = [], []
    with_pairs = [r for r in rows if r.get("conversation_a") and r.get("conversation_b")]
    responses = tokens.texts([r[k][-1]["content"] for r in with_pairs for k in ("conversation_a", "conversation_b")])
    by_id = {id(r): (responses[2 * i], responses[2 * i + 1]) for i, r in enumerate(with_pairs)}
    for row, n in zip(rows, counts):
        row["meta"]["prompt_tokens"] = int(n)
        if id(row) in by_id:
            row["meta"]["response_tokens_a"], row["meta"]["response_tokens_b"] = map(int, by_id[id(row)])
        if n > max_prompt_tokens:
            drops.append(Drop("length", row["source"], "prompt_too_long", row["id"], "context_messages",
                              f"{n} prompt tokens > max_prompt_tokens {max_prompt_tokens}"))
        else:
            kept.append(row)
    return kept, drops


def _group_key(row: dict) -> str:
    conv = row.get("conversation_a")
    if conv:
        return _client_key(conv)
    return content_hash([m.get("content") for m in row.get("context_messages", [])])


def _reply_key(row: dict) -> Optional[str]:
    a, b = row.get("conversation_a"), row.get("conversation_b")
    if not a or not b:
        return None
    return content_hash(sorted([a[-1].get("content"), b[-1].get("content")]))


def _last_question_key(row: dict) -> Optional[str]:
    conv = row.get("conversation_a") or []
    users = [m.get("content") for m in conv if m.get("role") == "user"]
    return content_hash(users[-1]) if users else None


def _preferred_reply(row: dict) -> Optional[str]:
    side = "conversation_a" if row.get("winner") == "model_a" else "conversation_b"
    conv = row.get(side) or []
    return conv[-1].get("content") if conv else None


def _label_carrying_replies(rows: Sequence[dict], keys: Sequence[Optional[str]]) -> set[str]:
    """The reply pairs (`keys`, each row's `_reply_key`) whose preferred reply is the same in every row that has
    them. A pair whose preferred reply changes from row to row ("True" against "False" under different programs)
    says nothing about the label by itself, so rows that share only such a pair need not sit on the same side of
    the split."""
    preferred: dict[str, set] = {}
    for row, key in zip(rows, keys):
        if key is not None:
            preferred.setdefault(key, set()).add(_preferred_reply(row))
    return {key for key, replies in preferred.items() if len(replies) == 1}


def _linked_groups(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """Rows grouped by links: the same client conversation, the same last question (after any history), the same
    `meta.question_key` where a source gives one (the synthetic generator: the question without its greeting), or
    the same two replies (in any order) when that pair always has the same preferred reply."""
    parent: dict[str, str] = {}
    questions = ["q" + _group_key(row) for row in rows]
    reply_keys = [_reply_key(row) for row in rows]
    carrying = _label_carrying_replies(rows, reply_keys)

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for row, question, replies in zip(rows, questions, reply_keys):
        last = _last_question_key(row)
        replies = replies if replies in carrying else None
        named = (row.get("meta") or {}).get("question_key")
        find(question)
        for other in (("r" + replies) if replies else None, ("u" + last) if last else None,
                      ("k" + content_hash(named)) if named else None):
            if other is not None:
                parent[find(other)] = find(question)
    groups: dict[str, list[dict]] = {}
    for row, question in zip(rows, questions):
        groups.setdefault(find(question), []).append(row)
    return groups


def split_rows(rows: Sequence[dict], n_heldout: int, n_train: int, seed: int) -> tuple[list, list, list[Drop]]:
    """(train, heldout, drops): whole groups go to held-out until it has n_heldout rows; train is shuffled and
    capped at n_train (0 = no cap). A group holds the rows linked by a shared client question or a shared pair of
    replies that always has the same preferred reply (`_linked_groups`), so neither a question nor a reply pair
    that gives its label away is on both sides."""
    groups = _linked_groups(rows)
    order = list(groups)
    random.Random(f"rmr1-split|{seed}").shuffle(order)
    heldout: list[dict] = []
    train: list[dict] = []
    # each category gets about an equal share of the held-out rows (a category whose rows form few large groups
    # would otherwise be crowded out by one with many small groups); what a category cannot fill goes to the rest
    categories = sorted({str(r.get("category")) for r in rows})
    quota = -(-n_heldout // max(len(categories), 1))
    taken: dict[str, int] = {}
    for strict in (True, False):
        left = []
        for key in order:
            members = groups[key]
            category = str(members[0].get("category"))
            fits = len(heldout) + len(members) <= n_heldout
            if fits and (not strict or taken.get(category, 0) + len(members) <= quota):
                heldout.extend(members)
                taken[category] = taken.get(category, 0) + len(members)
            else:
                left.append(key)
        order = left
    for key in order:
        train.extend(groups[key])
    drops = []
    if n_train and len(train) > n_train:
        for row in train[n_train:]:
            drops.append(Drop("split", row["source"], "over_n_train_cap", row["id"], "",
                              f"data.n_train caps training rows at {n_train}"))
        train = train[:n_train]
    for row in heldout:
        row["meta"]["split"] = "heldout"
    for row in train:
        row["meta"]["split"] = "train"
    return train, heldout, drops


# ----------------------------------------------------------------------------------------------------------
# The RM-R1 row schema and the released sets
# ----------------------------------------------------------------------------------------------------------
def validate_training_row(row: Any, where: str = "row") -> dict:
    """Check one RM-R1 row (context_messages, winner, source, category, turns, conversations, meta)."""
    try:
        if not isinstance(row, dict):
            raise _Bad("(record)", "wrong_type", f"a row must be an object, got {type(row).__name__}")
        if not isinstance(row.get("id"), str) or not row["id"]:
            raise _Bad("id", "missing_field", "a row needs a non-empty string id")
        _messages(_require(row, "context_messages"), "context_messages")
        _label(row.get("winner"))
        for key in ("source", "category", "turns"):
            _text(row, key)
        if row.get("conversation_a") is not None or row.get("conversation_b") is not None:
            a = _messages(_require(row, "conversation_a"), "conversation_a")
            b = _messages(_require(row, "conversation_b"), "conversation_b")
            _check_pair(a, b, ("conversation_a", "conversation_b"))
            turns = "single" if is_single_turn(a, b) else "multi"
            if row["turns"] != turns:
                raise _Bad("turns", "wrong_type", f"turns says {row['turns']!r} but the pair is {turns}-turn")
        if not isinstance(row.get("meta", {}), dict):
            raise _Bad("meta", "wrong_type", "meta must be an object")
    except _Bad as bad:
        raise DataError(f"{where}: field {bad.field!r}: {bad.detail} [{bad.reason}]") from None
    return row


def _convert_released(name: str, record: Any, row: int) -> dict:
    spec = RELEASED_SETS[name]
    messages = _messages(_require(record, "context_messages"), "context_messages")
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        raise _Bad("context_messages", "malformed_conversation", "there is no non-empty user message")
    out = {"id": f"{name}-{row:06d}", "context_messages": messages, "source": spec.hub_id,
           "category": "unlabelled", "turns": "unknown", "conversation_a": None, "conversation_b": None,
           "meta": {"released": spec.hub_id, "source_row": row}}
    if name == "distill_sft":
        trace = _text(record, "winner")
        side = parse_verdict(trace, "strict", window=100) or parse_verdict(trace, "lenient")
        if side is None:
            raise _Bad("winner", "bad_label", "the teacher trace has no readable verdict ([[A]] or [[B]])")
        out["trace"] = trace
        out["winner"] = f"model_{side.lower()}"
        if record.get("ground_truth") is not None:
            out["meta"]["ground_truth"] = record["ground_truth"]
    else:
        out["winner"] = _label(record.get("winner"))
    return out


def _fix_label_leak(rows: list[dict], normalise: bool, report: Optional[MixReport], name: str) -> list[dict]:
    """Count the misspelt side name (a label leak) in released rows; with `normalise`, write the right spelling."""
    leak = label_leak(rows)
    fixed = 0
    if normalise:
        for row in rows:
            row["context_messages"], changed = normalise_label_leak(row["context_messages"])
            fixed += changed
    leak["normalised"] = fixed
    if report is not None:
        report.label_leak[name] = leak
        if leak["with_misspelling"]:
            by = ", ".join(f"{w}: {e['with_misspelling']} of {e['rows']}" for w, e in leak["by_winner"].items())
            report.notes.append(
                f"{RELEASED_SETS[name].hub_id}: {leak['with_misspelling']} rows misspell 'Chatbot B' ({by}); "
                + ("normalised (data.normalise_label_leak)" if normalise else "kept as released"))
    return rows


def load_released(name: str, records: Any = None, *, origin: str = "", skip_bad_rows: bool = False,
                  limit: int = 0, report: Optional[MixReport] = None, normalise_leak: bool = True) -> list[dict]:
    """Rows of a released RM-R1 set, schema-checked (records: a file path, a list, or None for the hub).

    RLVR sets give RM-R1 rows as released (authors' prompt and A/B placement; no raw pair, so
    conversation_a/b are None). distill_sft rows also carry `trace` (the SFT target) and winner read from it.
    The multi-turn rows' misspelt side name (present exactly when the winner is A) is counted in the report and,
    with `normalise_leak`, corrected.
    """
    if name not in RELEASED_SETS:
        raise ConfigError(f"unknown released set {name!r}; choose one of {', '.join(RELEASED_SETS)}")
    spec = RELEASED_SETS[name]
    if records is None:
        records = hub_records(spec.hub_id)
    elif isinstance(records, (str, Path)):
        origin = origin or str(records)
        records = read_source_file(records)
    origin = origin or spec.hub_id
    rows = _convert_all(name, records, origin, lambda record, row: _convert_released(name, record, row),
                        skip_bad_rows, report, limit)
    return _fix_label_leak(rows, normalise_leak, report, name)


# ----------------------------------------------------------------------------------------------------------
# The authors' prompt (kind `authors`): learned from released rows at run time
# ----------------------------------------------------------------------------------------------------------
def authors_source_for(profile: Profile) -> str:
    """Where a profile's `authors` prompt is learned from: judge.authors_source, 'auto' = the released RL set of
    the model family; a released set name, or a local .jsonl/.json file (a set's copy in data.sources_dir too)."""
    return authors_source(profile)


def authors_template(source: str, *, seed: int = 0, records: Any = None) -> AuthorsTemplate:
    """Learn the authors' prompt from a released set (name, loaded from the hub) or a local .jsonl/.json file."""
    if records is None and source not in RELEASED_SETS:
        path = local_path(source) or Path(source).expanduser()  # relative: from the workbook folder too
        if path.suffix not in (".jsonl", ".json") or not path.is_file():
            raise ConfigError(f"judge.authors_source {source!r}: expected auto, a released set "
                              f"({', '.join(RELEASED_SETS)}) or an existing .jsonl/.json file of released rows")
        return learn_authors_template([r for _, _, r in read_source_file(path)], source=str(path), seed=seed)
    name = source if source in RELEASED_SETS else "after_distill_rlvr"
    hub_id = RELEASED_SETS[name].hub_id
    try:
        rows = load_released(name, records, skip_bad_rows=True, normalise_leak=False)
    except OfflineError as exc:
        raise OfflineError(
            f"the authors' prompt is learned from their released rows, but {str(exc).split('. Offline?')[0]}. "
            f"Offline? Download the set where there is network (`huggingface-cli download --repo-type dataset "
            f"{hub_id}`), save its rows as JSON Lines and pass the file with --released FILE.jsonl on the command "
            "line, or set judge.authors_source to it in a profile.") from None
    return learn_authors_template(rows, source=hub_id if records is None else source, seed=seed)


def authors_template_from_hub(name: str, *, seed: int = 0) -> AuthorsTemplate:
    """The authors' prompt learned from a released set on the hub; offline, an OfflineError with what to do."""
    if name not in RELEASED_SETS:
        raise ConfigError(f"unknown released set {name!r}; choose one of {', '.join(RELEASED_SETS)}")
    return authors_template(name, seed=seed)


def exclude_distilled(rows: Sequence[dict], traces: Sequence[dict]) -> tuple[list[dict], dict]:
    """The RL pool: `rows` without the pairs the distillation SFT trained on (matched by pair id or by prompt).

    The paper's RL set for the Instruct judges leaves the distillation pairs out (its released Instruct RL set
    excludes the released traces' prompts), so RL does not revisit what SFT already showed the judge.
    """
    ids = {str(t.get("id")) for t in traces if t.get("id") is not None}
    prompts = {content_hash(t["prompt"]) for t in traces if isinstance(t.get("prompt"), list)}
    kept, by_id, by_prompt = [], 0, 0
    for row in rows:
        if str(row.get("id")) in ids:
            by_id += 1
        elif content_hash(row.get("context_messages")) in prompts:
            by_prompt += 1
        else:
            kept.append(row)
    return kept, {"rows": len(rows), "traces": len(traces), "excluded": by_id + by_prompt, "by_id": by_id,
                  "by_prompt": by_prompt, "kept": len(kept)}


# ----------------------------------------------------------------------------------------------------------
# The whole build
# ----------------------------------------------------------------------------------------------------------
def synthetic_records(n: int, seed: int, kinds: Sequence[str], multi_turn_fraction: float) -> list[dict]:
    """The smoke profile's 'download': n seeded synthetic rows from rmr1lib.synthetic.make_pairs."""
    from .synthetic import make_pairs

    return make_pairs(n, seed=seed, kinds=tuple(kinds), multi_turn_fraction=multi_turn_fraction)


def _local_copy(name: str, sources_dir: str, hub_id: str) -> tuple[list, str]:
    """Records of <name>.jsonl (or .json) in data.sources_dir (relative: from the workbook folder too)."""
    folder = local_path(sources_dir) or Path(sources_dir).expanduser()
    for suffix in (".jsonl", ".json"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return list(read_source_file(path)), str(path)
    raise DataError(f"data.sources_dir {folder}: no {name}.jsonl or {name}.json (local copy of {hub_id})")


def _source_records(name: str, data: DataConfig, given: Optional[Mapping[str, Iterable[Any]]]) -> tuple[Iterable, str]:
    """Records of one pair source: given in memory, from data.sources_dir, or from the hub."""
    spec = PAIR_SOURCES[name]
    if given is not None and name in given:
        return given[name], f"{name} (records given in memory)"
    if getattr(data, "sources_dir", ""):
        return _local_copy(name, data.sources_dir, spec.hub_id)
    return hub_records(spec.hub_id), spec.hub_id


def _recipe_select(name: str, records: Iterable[Any], data: DataConfig, report: MixReport) -> Iterable[Any]:
    """A source's row selection before conversion (Code-Preference-Pairs: seeded shuffle, first N rows)."""
    if name != "code_pref" or not data.code_pairs:
        return records
    rows = records if hasattr(records, "select") else list(_rows(records))
    keep = shuffled_indices(len(rows), data.code_shuffle_seed)[: data.code_pairs]
    if hasattr(rows, "select"):  # a datasets.Dataset: pull only the rows the recipe keeps
        picked = [(i, None, rec) for i, rec in zip(keep, rows.select(keep))]
    else:
        picked = [rows[i] for i in keep]
    left_out = len(rows) - len(picked)
    report.drops += [Drop("recipe", name, "beyond_code_pairs", None, "",
                          f"shuffled with seed {data.code_shuffle_seed}; the first {data.code_pairs} are kept")
                     ] * left_out
    report.loaded[name] = report.loaded.get(name, 0) + left_out
    return picked


def build_mix(profile: Profile, tokens: Optional[TokenCounting] = None, *,
              records: Optional[Mapping[str, Iterable[Any]]] = None,
              skip_bad_rows: Optional[bool] = None) -> Mix:
    """Build the train / held-out RM-R1 rows for a profile (synthetic, released or the paper's sources).

    `tokens` counts prompt tokens with the profile's tokenizer (None: no length filter, noted in the report);
    `records` maps a source name to raw records instead of reading files or the hub (tests, notebooks).
    """
    data, kind, seed = profile.data, profile.judge.prompt_kind, profile.seed
    skip = data.skip_bad_rows if skip_bad_rows is None else skip_bad_rows
    report = MixReport(data.source, kind, data.placement, seed, data.max_prompt_tokens, skip)
    if data.source == "released":
        name = released_set_for(kind, data.released_set, profile.model.family)
        if name == "distill_sft":
            raise ConfigError("data.released_set: distill_sft holds SFT traces, not RL pairs; use an RLVR set")
        given = (records or {}).get(name)
        origin = f"{name} (records given in memory)" if given is not None else RELEASED_SETS[name].hub_id
        if given is None and data.sources_dir:  # a local copy, as for the paper's sources
            given, origin = _local_copy(name, data.sources_dir, RELEASED_SETS[name].hub_id)
        report.origins[name] = origin
        rows = load_released(name, given, origin=origin, skip_bad_rows=skip, report=report,
                             normalise_leak=data.normalise_label_leak)
        report.placement = "as_released"
        report.notes.append(f"{RELEASED_SETS[name].hub_id}: prompts and A/B placement are the authors'; "
                            f"data.placement and judge.prompt_kind do not re-render them")
        rows = _dedup_rows(rows, report)
    else:
        prefs = _preferences(data, seed, records, skip, report)
        report.counts["converted"] = len(prefs)
        prefs, drops = deduplicate(prefs) if data.dedup else (prefs, [])
        report.drops += drops
        for i, p in enumerate(prefs):
            p.index = i
        rows = [preference_to_row(p, kind, data.placement, seed) for p in prefs]
    report.counts["deduplicated"] = len(rows)
    if tokens is not None:
        rows, drops = filter_by_length(rows, tokens, data.max_prompt_tokens)
        report.drops += drops
    else:
        report.notes.append("no tokenizer given: prompt lengths were not checked")
    report.counts["length_ok"] = len(rows)
    train, heldout, drops = split_rows(rows, data.n_heldout, data.n_train, seed)
    report.drops += drops
    report.counts.update(train=len(train), heldout=len(heldout))
    if not train:
        raise DataError(_no_training_rows(report, data.n_heldout))
    if len(heldout) < data.n_heldout:
        report.notes.append(f"held-out has {len(heldout)} rows, fewer than data.n_heldout={data.n_heldout}")
    return Mix(train, heldout, report)


def _no_training_rows(report: MixReport, n_heldout: int) -> str:
    """Why a build ended with no training rows, and what to change."""
    counts = report.counts
    left = counts.get("length_ok", 0)
    steps = ", ".join(f"{stage} {n}" for stage, n in counts.items() if stage not in ("train", "heldout"))
    reasons = "; ".join(f"{r['stage']}: {r['reason']} x{r['count']}" for r in report.reasons_table()[:4])
    if left == 0:
        cause = "every row was left out before the split"
        fix = ("see the reasons; raise data.max_prompt_tokens if prompts were too long, or set "
               "data.skip_bad_rows / fix the source if rows were malformed")
    else:
        cause = (f"all {left} rows that passed the filters went to held-out (data.n_heldout={n_heldout}; whole "
                 "question groups are kept on one side)")
        fix = "lower data.n_heldout or add rows (data.n_train, or more source data)"
    return (f"the data build left no training rows: {cause}. Rows after each step: {steps}"
            + (f". Left out: {reasons}" if reasons else "") + f". To fix: {fix}.")


def _preferences(data: DataConfig, seed: int, records: Optional[Mapping[str, Iterable[Any]]], skip: bool,
                 report: MixReport) -> list[Preference]:
    if data.source == SYNTHETIC:
        if not data.n_train:
            raise ConfigError("data.n_train must be > 0 for synthetic data (it is the number of training pairs)")
        if records is not None and SYNTHETIC in records:
            raw, origin = records[SYNTHETIC], "synthetic (records given in memory)"
        else:
            n = int((data.n_train + data.n_heldout) * SYNTHETIC_OVERSAMPLE + 0.999)
            raw, origin = synthetic_records(n, seed, data.kinds, data.multi_turn_fraction), "rmr1lib.synthetic"
        report.origins[SYNTHETIC] = origin
        return convert_records(SYNTHETIC, raw, origin, skip_bad_rows=skip, report=report)
    if data.source != "build_from_sources":
        raise ConfigError(f"data.source {data.source!r}: expected synthetic, released or build_from_sources")
    prefs: list[Preference] = []
    for name in data.sources:
        raw, origin = _source_records(name, data, records)
        report.origins[name] = origin
        prefs += convert_records(name, _recipe_select(name, raw, data, report), origin, skip_bad_rows=skip,
                                 report=report)
    return prefs


def _dedup_rows(rows: list[dict], report: MixReport) -> list[dict]:
    seen: dict[str, str] = {}
    out = []
    for row in rows:
        key = content_hash(row["context_messages"])
        if key in seen:
            report.drops.append(Drop("dedup", row["source"], "duplicate", row["id"], "", f"same prompt as {seen[key]}"))
            continue
        seen[key] = row["id"]
        out.append(row)
    return out


# ----------------------------------------------------------------------------------------------------------
# Summaries for notebooks
# ----------------------------------------------------------------------------------------------------------
def pair_summary(rows: Iterable[dict], split: str = "") -> list[dict]:
    """One flat record per row (source, category, turns, winner, token counts) for tables and figures."""
    out = []
    for r in rows:
        meta = r.get("meta") or {}
        side = "A" if r.get("winner") == "model_a" else "B"
        tok = {"A": meta.get("response_tokens_a"), "B": meta.get("response_tokens_b")}
        out.append({
            "id": r.get("id"), "split": split or meta.get("split", ""), "source": r.get("source"),
            "category": r.get("category"), "turns": r.get("turns"), "winner": r.get("winner"),
            "chosen_side": side, "prompt_tokens": meta.get("prompt_tokens"),
            "chosen_tokens": tok[side], "rejected_tokens": tok["B" if side == "A" else "A"],
        })
    return out


def _task(row: dict) -> str:
    return str((row.get("meta") or {}).get("task") or "-")


def heldout_coverage(train: Sequence[dict], heldout: Sequence[dict]) -> dict:
    """Which categories and tasks the held-out split covers. `rows`: one record per (category, task) with its
    train and held-out counts and, for a task with no held-out rows, `smallest_group`, the fewest rows a whole
    linked group of it holds (split_rows moves whole groups, so a task whose every group is larger than a
    category's share of the held-out rows cannot be held out). `missing`: those tasks. Rows without a task
    (real sources) count as task "-"."""
    groups = _linked_groups(list(train) + list(heldout))
    smallest: dict[tuple, int] = {}
    for members in groups.values():
        for key in {(str(r.get("category")), _task(r)) for r in members}:
            smallest[key] = min(smallest.get(key, len(members)), len(members))
    counts: dict[tuple, dict] = {}
    for split, rows in (("train", train), ("heldout", heldout)):
        for r in rows:
            entry = counts.setdefault((str(r.get("category")), _task(r)), {"train": 0, "heldout": 0})
            entry[split] += 1
    out = []
    for (category, task), entry in sorted(counts.items()):
        record = {"category": category, "task": task, **entry}
        if not entry["heldout"]:
            record["smallest_group"] = smallest.get((category, task))
        out.append(record)
    return {"rows": out, "missing": [r for r in out if not r["heldout"]]}


def describe_heldout_coverage(coverage: dict, n_heldout: int) -> str:
    """A sentence, computed from `heldout_coverage`, naming the tasks the held-out figures do not measure and why:
    every group of the task is larger than a category's share of the held-out rows, or the draw left it out."""
    missing = coverage["missing"]
    tasks = len(coverage["rows"])
    if not missing:
        return f"Every one of the {tasks} category/task combinations has held-out pairs."
    categories = len({r["category"] for r in coverage["rows"]})
    share = -(-n_heldout // max(categories, 1))  # split_rows' quota per category
    named = []
    for r in missing:
        why = (f"whole groups of at least {r['smallest_group']}, more than a category's share of {share}"
               if (r["smallest_group"] or 0) > share else
               f"a group of {r['smallest_group']} would fit: the draw left it out")
        named.append(f"{r['category']}/{r['task']} ({r['train']} training pairs; {why})")
    return (f"{len(missing)} of {tasks} category/task combinations have no held-out pairs: {'; '.join(named)}. "
            f"The split moves whole groups of pairs that share a client question or a pair of replies that gives the "
            f"label away, so the held-out figures say nothing about these tasks.")


def source_table() -> list[dict]:
    """The paper's sources and released sets: hub id, recipe and row counts (Table 5 and the dataset cards)."""
    rows = [{"name": s.name, "hub_id": s.hub_id, "kind": "source", "category": s.category, "recipe": s.recipe,
             "paper_rows": s.paper_rows} for s in PAIR_SOURCES.values()]
    rows += [{"name": s.name, "hub_id": s.hub_id, "kind": "released", "category": "-", "recipe": s.use,
              "paper_rows": s.rows} for s in RELEASED_SETS.values()]
    return rows
