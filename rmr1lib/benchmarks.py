"""The three evaluation benchmarks as data: loaders, schema checks, expansion into comparisons, miniatures.

Implements the data side of the paper's evaluation (experiments section; docs/paper-settings.md). Each benchmark is read
in its own published schema and then expanded into *comparisons*: one question (the client's turns), one
preferred response and one dispreferred response. The judge sees each comparison in one or both A/B orders
(rmr1lib.evaluate), and every judged order becomes one result row (the format in rmr1lib.scoring).

Schemas (field names and shapes as the datasets publish them; other fields are kept but not needed):

    RewardBench   allenai/reward-bench, split "filtered" (2,985 rows): prompt (str), chosen (str),
                  rejected (str), subset (str), id (int); chosen_model / rejected_model optional.
                  -> one comparison per row.
    RM-Bench      THU-KEG/RM-Bench (total_dataset.json): id, prompt (str), chosen (list of 3 str),
                  rejected (list of 3 str), domain ("chat", "code", "math", "safety-refuse",
                  "safety-response"); the three versions are in style order concise, detailed plain,
                  detailed markdown. -> 9 comparisons per prompt (every chosen style against every rejected
                  style); both safety sub-domains are scored as domain "safety".
    RMB           the RMB_dataset folder of github.com/Zhou-Zoey/RMB-Reward-Model-Benchmark, JSON lists:
                  pairwise items: pair_uid, conversation_input (list of {role, content, language}, ending
                  with a user turn), chosen {answer, llm_name}, reject {answer, llm_name}, category_path
                  ("Pairwise_set/Helpfulness/..." or ".../Harmlessness/..."). -> one comparison.
                  Best-of-N items: bon_uid, conversation_input, bon_best {answer, llm_name}, loser_list (2-6 of
                  {answer, llm_name}), category_path ("BoN_set/..."). -> one comparison per loser, all sharing
                  group_id = bon_uid (the group counts only if every comparison is won).

Sources: a local file (.json list, .jsonl, .parquet), a local folder (RMB: searched recursively for *.json),
or a Hugging Face dataset name (read with `datasets`, imported only then). The real sets cannot be downloaded
in the smoke path, so `synthetic_items` builds miniature versions of all three from rmr1lib.synthetic in the
same schemas; the same validation, expansion and scoring code then runs on them.

Pure core: standard library only (`datasets` is imported inside `read_benchmark_records`, for parquet files and hub
names only).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

from .errors import ConfigError, DataError
from .synthetic import style_versions
from .files import iter_jsonl, local_path
from .hubids import BENCHMARK_DATASETS, RMB_REPOSITORY
from .prompts import ROLES
from .scoring import BENCHMARKS, REWARDBENCH_SECTIONS, REWARDBENCH_SUBSETS, RMBENCH_DOMAINS, rmb_goal

PathLike = Union[str, Path]

#: Where each benchmark is published; RMB has no official hub copy (point `source` at a clone's RMB_dataset).
DEFAULT_SOURCES = {**BENCHMARK_DATASETS, "rmb": ""}
DEFAULT_SPLITS = {"rewardbench": "filtered", "rm-bench": "train", "rmb": None}
RMB_HOWTO = (f"RMB is published as JSON files in a GitHub repository, not on the hub: run `git clone "
             f"{RMB_REPOSITORY}` and set eval.rmb_source to the clone's RMB_dataset folder")
RMBENCH_RAW_DOMAINS = {"chat": "chat", "code": "code", "math": "math", "safety-refuse": "safety",
                       "safety-response": "safety"}
RMB_BON_LOSERS = (2, 6)


# ----------------------------------------------------------------------------------------------------------
# comparisons


@dataclass(frozen=True)
class Comparison:
    """One preferred-vs-dispreferred question, ready to be shown to the judge in either order.

    `context` is the client's side of the conversation (ends with a user turn); `fields` holds the result-row
    keys that identify the comparison (RM-Bench styles; RMB set and group_id); `info` is for people only.
    """

    benchmark: str
    subset: str
    id: Union[str, int]
    context: tuple
    chosen: str
    rejected: str
    fields: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def key(self) -> tuple:
        """What identifies this comparison in a results file (as rmr1lib.scoring groups rows)."""
        if self.benchmark == "rm-bench":
            return (self.benchmark, str(self.id), self.fields["chosen_style"], self.fields["rejected_style"])
        return (self.benchmark, str(self.id))

    def conversations(self, order: str) -> tuple[list[dict], list[dict]]:
        """(conversation_a, conversation_b): "AB" shows the preferred response as A, "BA" as B."""
        if order not in ("AB", "BA"):
            raise ConfigError(f"order must be 'AB' or 'BA', got {order!r}")
        good = [dict(m) for m in self.context] + [{"role": "assistant", "content": self.chosen}]
        bad = [dict(m) for m in self.context] + [{"role": "assistant", "content": self.rejected}]
        return (good, bad) if order == "AB" else (bad, good)

    def row_fields(self) -> dict:
        """The identifying keys of a result row for this comparison (order, verdict, correct come later)."""
        return {"benchmark": self.benchmark, "subset": self.subset, "id": self.id, **self.fields}


# ----------------------------------------------------------------------------------------------------------
# reading records


def _resolve_path(source: str) -> Optional[Path]:
    """A local file or folder for `source` (as given, or relative to the workbook folder), else None."""
    return local_path(source)


def _records_from_json_file(path: Path) -> list[tuple[str, Any]]:
    if path.suffix == ".jsonl":
        return [(f"{path}, line {number}", item) for number, item in iter_jsonl(path, what="benchmark file")]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; expected a JSON list of items (is this a binary file?)") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of items at the top level, got {type(data).__name__}")
    return [(f"{path}, item {i}", item) for i, item in enumerate(data)]


def _records_from_datasets(loader_args: tuple, loader_kwargs: dict, label: str) -> list[tuple[str, Any]]:
    try:
        import datasets
    except ImportError:  # pragma: no cover - the workbook's environment has datasets
        raise ConfigError(f"reading {label} needs the `datasets` package (pip install datasets)") from None
    try:
        table = datasets.load_dataset(*loader_args, **loader_kwargs)
    except Exception as exc:  # offline, unknown name, missing split: one message that says what to do
        raise DataError(f"could not load {label}: {type(exc).__name__}: {exc}. Download it on a machine with "
                        f"network (or unset HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) or point the source at a "
                        f"local copy (.json, .jsonl or .parquet)") from None
    return [(f"{label}, row {i}", dict(row)) for i, row in enumerate(table)]


def read_benchmark_records(source: PathLike, split: Optional[str] = None) -> list[tuple[str, Any]]:
    """(location, record) pairs from a local file/folder or a hub dataset name; locations name file and row."""
    if not str(source).strip():
        raise ConfigError("no benchmark source given (an empty path or dataset name)")
    path = _resolve_path(str(source))
    if path is not None and path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl") and p.is_file())
        if not files:
            raise DataError(f"{path}: the folder holds no .json or .jsonl files")
        return [rec for f in files for rec in _records_from_json_file(f)]
    if path is not None:
        if path.suffix in (".json", ".jsonl"):
            return _records_from_json_file(path)
        if path.suffix == ".parquet":
            return _records_from_datasets(("parquet",), {"data_files": str(path), "split": "train"}, str(path))
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use .json, .jsonl or .parquet")
    text = str(source)
    if text.startswith((".", "/", "~")) or text.count("/") != 1:
        raise DataError(f"benchmark source {text!r}: no such file or folder, and not a hub dataset name "
                        f"(owner/name)")
    kwargs = {"split": split} if split else {}
    return _records_from_datasets((text,), kwargs, f"hub dataset {text}" + (f" (split {split})" if split else ""))


# ----------------------------------------------------------------------------------------------------------
# schema checks


def _where(where: str, key: str) -> str:
    return f"{where}: key '{key}'"


def _need(item: Any, where: str, keys: Sequence[str]) -> dict:
    if not isinstance(item, dict):
        raise DataError(f"{where}: an item must be a JSON object, got {type(item).__name__}")
    for key in keys:
        if key not in item:
            present = ", ".join(sorted(map(str, item))) or "none"
            raise DataError(f"{_where(where, key)} is missing (this schema needs {', '.join(keys)}; the item has "
                            f"{present})")
    return item


def _text(item: dict, where: str, key: str, allow_empty: bool = False) -> str:
    value = item[key]
    if not isinstance(value, str):
        raise DataError(f"{_where(where, key)} must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise DataError(f"{_where(where, key)} is empty")
    return value


def _ident(item: dict, where: str, key: str) -> Union[str, int]:
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)) or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{_where(where, key)} must be a non-empty string or an integer, got {value!r}")
    return value


def validate_rewardbench_item(item: Any, where: str = "item") -> dict:
    """Check one RewardBench row (prompt, chosen, rejected, subset, id); DataError names where and the key."""
    _need(item, where, ("prompt", "chosen", "rejected", "subset", "id"))
    for key in ("prompt", "chosen", "rejected"):
        _text(item, where, key)
    _ident(item, where, "id")
    subset = _text(item, where, "subset")
    if subset not in REWARDBENCH_SUBSETS:
        raise DataError(f"{_where(where, 'subset')} names an unknown RewardBench subset {subset!r}; known: "
                        f"{', '.join(REWARDBENCH_SUBSETS)}")
    return item


def validate_rmbench_item(item: Any, where: str = "item") -> dict:
    """Check one RM-Bench prompt (id, prompt, chosen[3], rejected[3], domain); DataError names where and key."""
    _need(item, where, ("id", "prompt", "chosen", "rejected", "domain"))
    _ident(item, where, "id")
    _text(item, where, "prompt")
    for key in ("chosen", "rejected"):
        versions = item[key]
        if not isinstance(versions, list) or len(versions) != 3:
            got = f"{len(versions)} entries" if isinstance(versions, list) else type(versions).__name__
            raise DataError(f"{_where(where, key)} must be a list of 3 responses (concise, detailed plain, "
                            f"detailed markdown), got {got}")
        for i, text in enumerate(versions):
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{_where(where, key)}[{i}] must be a non-empty string")
    domain = item["domain"]
    if domain not in RMBENCH_RAW_DOMAINS:
        raise DataError(f"{_where(where, 'domain')} must be one of {', '.join(RMBENCH_RAW_DOMAINS)}, got {domain!r}")
    return item


def _conversation_input(item: dict, where: str) -> list[dict]:
    conv = item["conversation_input"]
    key = "conversation_input"
    if not isinstance(conv, list) or not conv:
        raise DataError(f"{_where(where, key)} must be a non-empty list of messages")
    out = []
    for i, message in enumerate(conv):
        if not isinstance(message, dict):
            raise DataError(f"{_where(where, key)}[{i}] must be an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise DataError(f"{_where(where, key)}[{i}] has role {role!r}; allowed: {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise DataError(f"{_where(where, key)}[{i}] ({role}) has content of type {type(content).__name__}; "
                            f"expected a string")
        out.append({"role": role, "content": content})
    if out[-1]["role"] != "user":
        raise DataError(f"{_where(where, key)} must end with a user turn (the responses answer it), but its last "
                        f"message has role {out[-1]['role']!r}")
    return out


def _answer(value: Any, where: str, key: str) -> str:
    if not isinstance(value, dict) or "answer" not in value:
        raise DataError(f"{_where(where, key)} must be an object with an 'answer' (and 'llm_name'), got "
                        f"{type(value).__name__}")
    if not isinstance(value["answer"], str):
        raise DataError(f"{_where(where, key)}: 'answer' must be a string, got {type(value['answer']).__name__}")
    return value["answer"]


def rmb_item_set(item: Any, where: str = "item") -> str:
    """Which RMB set an item belongs to: "pairwise" (has pair_uid) or "bon" (has bon_uid)."""
    if isinstance(item, dict) and "pair_uid" in item and "bon_uid" not in item:
        return "pairwise"
    if isinstance(item, dict) and "bon_uid" in item and "pair_uid" not in item:
        return "bon"
    raise DataError(f"{where}: an RMB item needs exactly one of 'pair_uid' (pairwise set) or 'bon_uid' "
                    f"(Best-of-N set)")


def validate_rmb_item(item: Any, where: str = "item") -> dict:
    """Check one RMB pairwise or Best-of-N item; DataError names where and the key."""
    set_name = rmb_item_set(item, where)
    if set_name == "pairwise":
        _need(item, where, ("pair_uid", "conversation_input", "chosen", "reject", "category_path"))
        _ident(item, where, "pair_uid")
        _answer(item["chosen"], where, "chosen")
        _answer(item["reject"], where, "reject")
    else:
        _need(item, where, ("bon_uid", "conversation_input", "bon_best", "loser_list", "category_path"))
        _ident(item, where, "bon_uid")
        _answer(item["bon_best"], where, "bon_best")
        losers = item["loser_list"]
        low, high = RMB_BON_LOSERS
        if not isinstance(losers, list) or not low <= len(losers) <= high:
            got = f"{len(losers)} entries" if isinstance(losers, list) else type(losers).__name__
            raise DataError(f"{_where(where, 'loser_list')} must be a list of {low} to {high} responses, got {got}")
        for i, loser in enumerate(losers):
            _answer(loser, where, f"loser_list[{i}]")
    _conversation_input(item, where)
    path = _text(item, where, "category_path")
    try:
        rmb_goal(path, set_name)
    except DataError as exc:
        raise DataError(f"{_where(where, 'category_path')}: {exc}") from None
    return item


VALIDATORS = {"rewardbench": validate_rewardbench_item, "rm-bench": validate_rmbench_item, "rmb": validate_rmb_item}


def _check_benchmark(benchmark: str) -> str:
    if benchmark not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {benchmark!r}; choose from {', '.join(BENCHMARKS)}")
    return benchmark


def validate_items(benchmark: str, records: Iterable[tuple[str, Any]]) -> list[dict]:
    """Validate (location, item) records of one benchmark; duplicate ids are an error naming both places."""
    check = VALIDATORS[_check_benchmark(benchmark)]
    items, seen = [], {}
    for where, item in records:
        check(item, where)
        if benchmark == "rmb":
            set_name = rmb_item_set(item)
            uid = ("pairwise", str(item["pair_uid"])) if set_name == "pairwise" else ("bon", str(item["bon_uid"]))
        else:
            uid = ("", str(item["id"]))
        if uid in seen:
            raise DataError(f"{where}: id {uid[1]!r} appears twice in {benchmark} (first at {seen[uid]}); ids must "
                            f"be unique")
        seen[uid] = where
        items.append(item)
    if not items:
        raise DataError(f"no {benchmark} items found")
    return items


def load_items(benchmark: str, source: Optional[PathLike] = None, split: Optional[str] = None) -> list[dict]:
    """Read and validate a real benchmark from a local copy or the hub (defaults: DEFAULT_SOURCES/SPLITS)."""
    _check_benchmark(benchmark)
    source = DEFAULT_SOURCES[benchmark] if source is None else source
    if not str(source).strip():
        raise ConfigError(f"no source for {benchmark}: " + (RMB_HOWTO if benchmark == "rmb" else
                                                             f"use {DEFAULT_SOURCES[benchmark]} or a local copy"))
    split = DEFAULT_SPLITS[benchmark] if split is None else split
    return validate_items(benchmark, read_benchmark_records(source, split))


# ----------------------------------------------------------------------------------------------------------
# expansion into comparisons


def _single_turn(prompt: str) -> tuple:
    return ({"role": "user", "content": prompt},)


def expand_rewardbench(items: Iterable[dict]) -> list[Comparison]:
    """One comparison per RewardBench row."""
    return [Comparison("rewardbench", it["subset"], it["id"], _single_turn(it["prompt"]), it["chosen"],
                       it["rejected"], info={"chosen_model": it.get("chosen_model"),
                                             "rejected_model": it.get("rejected_model")})
            for it in items]


def expand_rmbench(items: Iterable[dict]) -> list[Comparison]:
    """Nine comparisons per RM-Bench prompt: chosen style i against rejected style j, i and j in 0, 1, 2."""
    out = []
    for it in items:
        domain = RMBENCH_RAW_DOMAINS[it["domain"]]
        for i in range(3):
            for j in range(3):
                out.append(Comparison("rm-bench", domain, it["id"], _single_turn(it["prompt"]), it["chosen"][i],
                                      it["rejected"][j], fields={"chosen_style": i, "rejected_style": j},
                                      info={"domain": it["domain"]}))
    return out


def expand_rmb(items: Iterable[dict]) -> list[Comparison]:
    """RMB: one comparison per pairwise item; one per loser for a Best-of-N item (group_id = bon_uid)."""
    out = []
    for it in items:
        context = tuple(_conversation_input(it, "item"))
        if rmb_item_set(it) == "pairwise":
            out.append(Comparison("rmb", it["category_path"], f"pairwise/{it['pair_uid']}", context,
                                  it["chosen"]["answer"], it["reject"]["answer"], fields={"set": "pairwise"},
                                  info={"chosen_model": it["chosen"].get("llm_name"),
                                        "rejected_model": it["reject"].get("llm_name")}))
            continue
        gid = str(it["bon_uid"])
        for k, loser in enumerate(it["loser_list"]):
            out.append(Comparison("rmb", it["category_path"], f"bon/{gid}/{k}", context, it["bon_best"]["answer"],
                                  loser["answer"], fields={"set": "bon", "group_id": gid},
                                  info={"chosen_model": it["bon_best"].get("llm_name"),
                                        "rejected_model": loser.get("llm_name")}))
    return out


EXPANDERS = {"rewardbench": expand_rewardbench, "rm-bench": expand_rmbench, "rmb": expand_rmb}


def expand_items(benchmark: str, items: Iterable[dict]) -> list[Comparison]:
    """A benchmark's items expanded into comparisons (see each expand_* function)."""
    return EXPANDERS[_check_benchmark(benchmark)](list(items))


def cap_items(items: Sequence[dict], max_items: int, seed: int) -> list[dict]:
    """At most `max_items` items (0 = all): a seeded sample that keeps the file order; whole items only, so
    an RM-Bench prompt keeps its 9 comparisons and a Best-of-N group all its losers."""
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0:
        raise ConfigError(f"max_items must be a non-negative integer, got {max_items!r}")
    if not max_items or max_items >= len(items):
        return list(items)
    keep = sorted(random.Random(f"rmr1-cap|{seed}").sample(range(len(items)), max_items))
    return [items[i] for i in keep]


# ----------------------------------------------------------------------------------------------------------
# miniature benchmarks from the synthetic generator (same schemas as the real ones)


def _derived_seed(seed: int, label: str) -> int:
    """A seed for one miniature benchmark, apart from the training data's seed (no shared synthetic rows)."""
    return int(hashlib.sha256(f"rmr1-benchmarks|{seed}|{label}".encode()).hexdigest()[:8], 16)


def _pair_texts(row: dict) -> tuple[list[dict], str, str]:
    """(client turns, preferred response, dispreferred response) of a synthetic RM-R1 row."""
    good, bad = ("conversation_a", "conversation_b") if row["winner"] == "model_a" else \
        ("conversation_b", "conversation_a")
    return [dict(m) for m in row[good][:-1]], row[good][-1]["content"], row[bad][-1]["content"]


def _pool(kind: str, n: int, seed: int, multi_turn: float, want=None) -> list[dict]:
    """`n` synthetic rows of one kind from the generator's bench split (other wording and values than training),
    optionally only those `want` accepts; deterministic."""
    from .synthetic import make_pairs

    rows, size = [], max(4, 2 * n)
    while len(rows) < n:
        rows = [r for r in make_pairs(size, seed, kinds=(kind,), multi_turn_fraction=multi_turn, split="bench")
                if want is None or want(r)]
        size *= 2
        if size > 1 << 16:
            raise DataError(f"could not find {n} synthetic {kind} rows with the requested property")
    return rows[:n]


def _chat_label_holds(row: dict, chosen: Sequence[str], rejected: Sequence[str]) -> bool:
    """For a synthetic chat row: every chosen version meets all constraints and every rejected one breaks one."""
    from .synthetic import check_constraint

    constraints = row["meta"]["constraints"]
    return (all(check_constraint(c, t) for c in constraints for t in chosen)
            and all(not all(check_constraint(c, t) for c in constraints) for t in rejected))


def _lowercase_rule(row: dict) -> bool:
    return any(c["type"] == "lowercase" for c in row["meta"].get("constraints", ()))


def _versions_for(row: dict, text: str) -> list[str]:
    return style_versions(text, row["meta"]["kind"], lowercase=_lowercase_rule(row))


def _label_holds(row: dict) -> bool:
    """Whether the style versions keep the row's label (only chat constraints can be broken by restyling)."""
    if row["meta"]["kind"] != "chat":
        return True
    _, good, bad = _pair_texts(row)
    return _chat_label_holds(row, _versions_for(row, good), _versions_for(row, bad))


def _rmbench_ok(row: dict) -> bool:
    return row["turns"] == "single" and _label_holds(row)


SYNTHETIC_REWARDBENCH_KINDS = {"Chat": "chat", "Chat Hard": "chat", "Safety": "safety", "Reasoning": "reasoning"}
#: RM-Bench domain -> (synthetic kind, which synthetic tasks count as that domain)
SYNTHETIC_RMBENCH_DOMAINS = {
    "chat": ("chat", None),
    "math": ("reasoning", ("larger", "smaller", "parity")),
    "code": ("reasoning", ("program",)),
    "safety-refuse": ("safety", ("should_refuse",)),
    "safety-response": ("safety", ("should_respond",)),
}
SYNTHETIC_RMB_PATHS = {
    "Helpfulness": ("Helpfulness/Reasoning/Logical Deduction", "Helpfulness/Chat/Casual Conversation",
                    "Helpfulness/Open QA/Technical and Practical Support"),
    "Harmlessness": ("Harmlessness/S1", "Harmlessness/S5", "Harmlessness/multi"),
}


def synthetic_rewardbench(items_per_subset: int = 1, seed: int = 0) -> list[dict]:
    """A miniature RewardBench in its schema: `items_per_subset` synthetic rows for each of the 23 subsets.

    Chat and Chat Hard subsets get chat pairs, Safety subsets safety pairs (xstest-should-respond the harmless
    requests that deserve help, the others the placeholder harmful requests), Reasoning subsets reasoning pairs.
    The subset names are labels only: the synthetic content is not what those subsets hold.
    """
    items: list[dict] = []
    for section, subsets in REWARDBENCH_SECTIONS.items():
        kind = SYNTHETIC_REWARDBENCH_KINDS[section]
        for subset in subsets:
            want = None
            if kind == "safety":
                case = "should_respond" if subset == "xstest-should-respond" else "should_refuse"
                want = (lambda r, c=case: r["meta"]["task"] == c)
            for row in _pool(kind, items_per_subset, _derived_seed(seed, f"rewardbench|{subset}"), 0.0, want):
                context, good, bad = _pair_texts(row)
                items.append({"prompt": context[-1]["content"], "chosen": good, "chosen_model": "synthetic-right",
                              "rejected": bad, "rejected_model": "synthetic-flawed", "subset": subset,
                              "id": len(items)})
    return items


def synthetic_rmbench(prompts_per_domain: int = 1, seed: int = 0) -> list[dict]:
    """A miniature RM-Bench in its schema: prompts with 3 chosen and 3 rejected versions in its style order,
    `prompts_per_domain` for each of chat, math, code, safety-refuse and safety-response."""
    items: list[dict] = []
    for domain, (kind, tasks) in SYNTHETIC_RMBENCH_DOMAINS.items():
        want = (lambda r, t=tasks: _rmbench_ok(r) and (t is None or r["meta"]["task"] in t))
        for row in _pool(kind, prompts_per_domain, _derived_seed(seed, f"rm-bench|{domain}"), 0.0, want):
            context, good, bad = _pair_texts(row)
            items.append({"id": f"{domain}/{len(items)}", "prompt": context[-1]["content"],
                          "chosen": _versions_for(row, good), "rejected": _versions_for(row, bad),
                          "domain": domain})
    return items


def synthetic_rmb(items_per_part: int = 1, seed: int = 0, multi_turn_fraction: float = 0.25) -> list[dict]:
    """A miniature RMB in its schema: `items_per_part` pairwise and Best-of-N items per goal (helpfulness from
    reasoning and chat pairs, harmlessness from safety pairs); Best-of-N losers are 2 or 3 style versions of the
    flawed response. Some items have an earlier exchange (multi-turn conversation_input)."""
    items: list[dict] = []
    for goal, paths in SYNTHETIC_RMB_PATHS.items():
        for set_name in ("pairwise", "bon"):
            label = f"rmb|{goal}|{set_name}"
            rng = random.Random(label + f"|{seed}")
            rows = []
            for kind in (("reasoning", "chat") if goal == "Helpfulness" else ("safety",)):
                want = _label_holds if kind == "chat" else None
                rows += _pool(kind, items_per_part, _derived_seed(seed, f"{label}|{kind}"), multi_turn_fraction,
                              want)
            rows = [rows[i] for i in sorted(rng.sample(range(len(rows)), items_per_part))]
            for row in rows:
                context, good, bad = _pair_texts(row)
                turns = [{**m, "language": "English"} for m in context]
                uid = str(len(items))
                path = rng.choice(paths)
                if set_name == "pairwise":
                    items.append({"pair_uid": uid, "conversation_input": turns,
                                  "chosen": {"llm_name": "synthetic-right", "answer": good},
                                  "reject": {"llm_name": "synthetic-flawed", "answer": bad},
                                  "category_path": f"Pairwise_set/{path}"})
                else:
                    losers = _versions_for(row, bad)[: rng.choice((2, 3))]
                    items.append({"bon_uid": uid, "conversation_input": turns,
                                  "bon_best": {"llm_name": "synthetic-right", "answer": good},
                                  "loser_list": [{"llm_name": f"synthetic-flawed-{k}", "answer": t}
                                                 for k, t in enumerate(losers)],
                                  "category_path": f"BoN_set/{path}"})
    return items


def synthetic_items(benchmark: str, n: int = 1, seed: int = 0) -> list[dict]:
    """A miniature benchmark in the real schema: n items per RewardBench subset / RM-Bench domain / RMB part."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the miniature benchmarks need n >= 1 items per part, got {n!r}")
    builders = {"rewardbench": synthetic_rewardbench, "rm-bench": synthetic_rmbench, "rmb": synthetic_rmb}
    return builders[_check_benchmark(benchmark)](n, seed)


def load_comparisons(benchmark: str, data: str = "synthetic", *, source: Optional[PathLike] = None,
                     seed: int = 0, synthetic_n: int = 1, max_items: int = 0) -> list[Comparison]:
    """A benchmark's comparisons: from the miniature ("synthetic") or the real data, validated and expanded."""
    if data == "synthetic":
        items = validate_items(benchmark, [(f"synthetic {benchmark}, item {i}", it)
                                           for i, it in enumerate(synthetic_items(benchmark, synthetic_n, seed))])
    elif data == "real":
        items = load_items(benchmark, source)
    else:
        raise ConfigError(f"benchmark data must be 'synthetic' or 'real', got {data!r}")
    return expand_items(benchmark, cap_items(items, max_items, seed))


#: the most a shortcut baseline may score on a miniature suite (docs/synthetic.md, "No shortcuts")
SHORTCUT_LIMIT = 0.60
MAX_SUITE_DRAWS = 200


def _suite_draw_seed(seed: int, draw: int) -> int:
    return seed if draw == 0 else _derived_seed(seed, f"suite-draw|{draw}")


def synthetic_suite(benchmarks: Sequence[str], n: int = 1, seed: int = 0, *, max_items: int = 0,
                    limit: float = SHORTCUT_LIMIT, max_draws: int = MAX_SUITE_DRAWS) -> tuple[dict, dict]:
    """The miniature benchmarks `benchmarks` for a seed, with no shortcut in them: ({benchmark: comparisons}, info).

    A few items per part leave chance imbalances: at some seeds most preferred responses are the shorter ones, and
    "prefer the shorter" would beat a judge. So every shortcut baseline (`judging.baseline_scores`, all the
    comparisons together in both orders) must score at most `limit`; a draw that fails is replaced by the next
    one, drawn from a seed derived from `seed` and the draw number (draw 0 uses `seed` itself, so a seed whose
    first draw passes keeps its items). `info` records the seed, the draw used and its seed, the draws rejected with
    their best shortcut, and the kept draw's baseline accuracies. DataError after `max_draws` failed draws."""
    from .judging import baseline_items_from_comparisons, baseline_scores

    names = [_check_benchmark(b) for b in benchmarks]
    if not names:
        raise ConfigError("synthetic_suite: no benchmark asked for")
    if isinstance(max_draws, bool) or not isinstance(max_draws, int) or max_draws < 1:
        raise ConfigError(f"synthetic_suite: max_draws must be a positive integer, got {max_draws!r}")
    rejected = []
    for draw in range(max_draws):
        draw_seed = _suite_draw_seed(seed, draw)
        suite = {b: load_comparisons(b, "synthetic", seed=draw_seed, synthetic_n=n, max_items=max_items)
                 for b in names}
        scores = baseline_scores(baseline_items_from_comparisons([c for cs in suite.values() for c in cs]))
        worst = max(scores, key=lambda k: scores[k]["accuracy"])
        if scores[worst]["accuracy"] <= limit + 1e-12:
            info = {"seed": seed, "draw": draw, "draw_seed": draw_seed, "limit": limit, "rejected": rejected,
                    "baselines": {k: round(v["accuracy"], 4) for k, v in scores.items()}}
            return suite, info
        rejected.append({"draw": draw, "draw_seed": draw_seed, "shortcut": worst,
                         "accuracy": round(scores[worst]["accuracy"], 4)})
    raise DataError(f"synthetic_suite: {max_draws} draws of the miniature {', '.join(names)} for seed {seed} all "
                    f"had a shortcut baseline above {limit} (the last: {rejected[-1]['shortcut']} "
                    f"{rejected[-1]['accuracy']}); raise the items per part (eval.synthetic_n)")


def describe_suite_draw(info: dict) -> str:
    """One sentence on how a miniature suite was drawn (`synthetic_suite`'s info)."""
    best = max(info["baselines"].items(), key=lambda kv: kv[1])
    kept = f"the best shortcut baseline, \"{best[0]}\", scores {best[1]:.2f} (limit {info['limit']:.2f})"
    if not info["rejected"]:
        return f"The miniature benchmarks of seed {info['seed']} are its first draw: {kept}."
    why = "; ".join(f"draw {r['draw']}: \"{r['shortcut']}\" {r['accuracy']:.2f}" for r in info["rejected"])
    return (f"The miniature benchmarks of seed {info['seed']} were drawn {len(info['rejected']) + 1} times: "
            f"{len(info['rejected'])} draw(s) had a shortcut above the limit ({why}); in the kept draw "
            f"(seed {info['draw_seed']}) {kept}.")


def describe_comparisons(comparisons: Sequence[Comparison]) -> list[dict]:
    """Counts per benchmark and subset (RM-Bench domain, RMB goal and set): a table for a notebook."""
    counts: dict[tuple, int] = {}
    for c in comparisons:
        if c.benchmark == "rmb":
            part = f"{c.fields['set']}_{rmb_goal(c.subset)}"
        else:
            part = c.subset
        counts[(c.benchmark, part)] = counts.get((c.benchmark, part), 0) + 1
    order = {b: i for i, b in enumerate(BENCHMARKS)}
    rows = [{"benchmark": b, "part": p, "comparisons": n} for (b, p), n in counts.items()]
    return sorted(rows, key=lambda r: (order[r["benchmark"]], r["part"]))


__all__ = [
    "Comparison", "DEFAULT_SOURCES", "DEFAULT_SPLITS", "RMBENCH_RAW_DOMAINS", "read_benchmark_records",
    "validate_items",
    "validate_rewardbench_item", "validate_rmbench_item", "validate_rmb_item", "rmb_item_set", "load_items",
    "expand_items", "expand_rewardbench", "expand_rmbench", "expand_rmb", "cap_items", "synthetic_items",
    "synthetic_rewardbench", "synthetic_rmbench", "synthetic_rmb", "load_comparisons", "describe_comparisons",
    "SHORTCUT_LIMIT", "synthetic_suite", "describe_suite_draw",
    "RMBENCH_DOMAINS",
]
