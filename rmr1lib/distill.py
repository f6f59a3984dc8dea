"""Teacher traces for distillation and the two-pass recipe (paper section 3, distillation; docs/paper-settings.md).

The paper sent about 12% of its preference pairs to a strong teacher with the Chain-of-Rubrics prompt and kept
a trace only when its last 100 characters held the right verdict (about 75% did). Pairs that came back wrong
were asked again, this time with the correct verdict and the wrong trace given as a hint, and the new trace was
kept if it was right. This module reproduces that recipe with any of four teachers behind one interface:

    oracle    the synthetic data's answer key (smoke profile); `error_rate` makes a seeded share of first-pass
              traces deliberately wrong so that pass 2 has real work to do
    openai    any OpenAI-compatible chat completions API; base URL, model and key come ONLY from the environment
              (RMR1_TEACHER_BASE_URL, RMR1_TEACHER_MODEL, RMR1_TEACHER_API_KEY), never from a notebook or profile
    vllm      a local model through rmr1lib.generation (vLLM by default)
    released  no teacher at all: the authors' released traces, gaotang/RM-R1-Distill-SFT, through `datasets`

Every teacher reply is appended to a JSONL store keyed by (pair id, pass) the moment it arrives, so an
interrupted run continues where it stopped and never pays twice for a finished call. Rate limits and transient
errors are retried with exponential back-off; a malformed reply is recorded and skipped, never fatal.

Engine layer: the module itself imports only the standard library; vLLM, transformers and datasets are imported
lazily by the teachers that need them.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import math
import os
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

from .errors import ConfigError, DataError, RmR1Error
from .files import AppendLog, content_hash, local_path
from .hubids import RELEASED_DATASETS
from .parsing import parse_verdict
from .profiles import Profile
from .progress import ProgressLine
from .prompts import ROLES, build_messages, check_prompt_kind, output_format
from .rewards import winner_side

TEACHERS = ("oracle", "openai", "vllm", "released")
ENV_BASE_URL = "RMR1_TEACHER_BASE_URL"
ENV_MODEL = "RMR1_TEACHER_MODEL"
ENV_SECOND_MODEL = "RMR1_TEACHER_SECOND_MODEL"
ENV_API_KEY = "RMR1_TEACHER_API_KEY"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
RELEASED_DATASET = RELEASED_DATASETS["distill_sft"]
CORRECTNESS_WINDOW = 100
STATUSES = ("ok", "bad_response", "failed")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
FATAL_STATUS = {401: "the key was refused", 403: "access is forbidden", 404: "no such model or endpoint"}
DROP_REASONS = ("wrong_after_pass2", "wrong_no_pass2", "bad_response", "request_failed")

Messages = list[dict]


class TeacherError(RmR1Error):
    """A teacher cannot work at all (bad key, unknown model, unreachable endpoint): stop and say what to fix."""


# ----------------------------------------------------------------------------------------------------------
# prompts


def validate_prompt(messages: Any, where: str) -> Messages:
    """Check a judge prompt: a non-empty list of {role, content} messages that ends with the user's turn."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where} must be a non-empty list of {{'role', 'content'}} messages, "
                        f"got {type(messages).__name__}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise DataError(f"{where}[{i}] must be a message with role in {ROLES} and str content, got {m!r:.80}")
    if messages[-1]["role"] != "user":
        raise DataError(f"{where} ends with a {messages[-1]['role']!r} turn; a judge prompt ends with the user's turn")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def teacher_messages(row: dict, prompt_kind: str) -> Messages:
    """The judge prompt a teacher answers for one pair: re-rendered from the raw pair when the row has it."""
    if isinstance(row.get("conversation_a"), list) and isinstance(row.get("conversation_b"), list):
        return build_messages(prompt_kind, row["conversation_a"], row["conversation_b"])
    if "context_messages" not in row:
        raise DataError(f"row {row.get('id')!r}: needs conversation_a/conversation_b or context_messages")
    return validate_prompt(row["context_messages"], f"row {row.get('id')!r} context_messages")


_HINT = """\

== Reviewer's note for this judgement ==
The preference label for this comparison is known: Chatbot {side} gave the better response.
{previous}Write a new, complete judgement in exactly the output format required above. Base every step on the two \
responses themselves, so that your evaluation shows why Chatbot {side} is better, and finish with \
<answer>[[{side}]]</answer>. Do not mention this note, the label or any earlier attempt."""
_PREVIOUS = """An earlier judgement of the same comparison, copied between the markers below, reached the wrong \
verdict; do not reuse its mistakes.
[earlier judgement begins]
{text}
[earlier judgement ends]
"""


def hint_messages(messages: Messages, correct_side: str, wrong_trace: Optional[str]) -> Messages:
    """The pass-2 prompt: the pass-1 prompt with our reviewer's note (correct verdict, wrong trace) appended."""
    side = winner_side(correct_side)
    previous = _PREVIOUS.format(text=wrong_trace.strip()) if wrong_trace and wrong_trace.strip() else ""
    note = _HINT.format(side=side, previous=previous)
    out = [dict(m) for m in messages]
    if out and out[-1].get("role") == "user":
        out[-1]["content"] = out[-1]["content"] + "\n" + note
    else:
        out.append({"role": "user", "content": note.lstrip("\n")})
    return out


def trace_verdict(text: Any, window: int = CORRECTNESS_WINDOW) -> Optional[str]:
    """The verdict a trace reaches under the distillation rule: the exact answer tag in its last `window` chars."""
    return parse_verdict(text, "strict", window)


# ----------------------------------------------------------------------------------------------------------
# teachers


@dataclass
class TraceJob:
    """One request to a teacher: a pair, which pass, and the messages to send."""

    pair_id: str
    pass_no: int
    messages: Messages
    row: dict
    hint_side: Optional[str] = None  # pass 2: the correct side, "A" or "B"


@dataclass
class TeacherReply:
    """What came back: a text (status 'ok'), an unusable reply ('bad_response') or nothing ('failed')."""

    text: Optional[str]
    status: str = "ok"
    error: str = ""
    attempts: int = 1
    usage: dict = field(default_factory=dict)


class Teacher:
    """The interface every teacher implements: `complete(jobs)` yields (job, reply) as replies arrive."""

    name = "teacher"
    batch_size = 1

    def __init__(self) -> None:
        self.calls = 0  # requests made by this object (every retry of one request counts once)

    def describe(self) -> dict:
        """What is recorded with every trace: safe to log and save (never a key)."""
        return {"teacher": self.name}

    def complete(self, jobs: Sequence[TraceJob]) -> Iterator[tuple[TraceJob, TeacherReply]]:
        """Ask the teacher for every job; yield each (job, reply) as soon as it is available."""
        for start in range(0, len(jobs), self.batch_size):
            chunk = list(jobs[start:start + self.batch_size])
            replies = self._complete_batch(chunk)
            self.calls += len(chunk)
            yield from zip(chunk, replies)

    def _complete_batch(self, jobs: list[TraceJob]) -> list[TeacherReply]:
        raise NotImplementedError

    def close(self) -> None:
        """Release whatever the teacher holds (an engine, connections)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.describe().items())})"


class OracleTeacher(Teacher):
    """The synthetic data's answer key as a teacher; a seeded share of first-pass traces comes back wrong."""

    name = "oracle"
    batch_size = 64

    def __init__(self, prompt_kind: str = "instruct_cor", error_rate: float = 0.0, seed: int = 0):
        super().__init__()
        if not 0.0 <= float(error_rate) <= 1.0:
            raise ConfigError(f"OracleTeacher: error_rate must be in [0, 1], got {error_rate!r}")
        self.prompt_kind = check_prompt_kind(prompt_kind)
        self.error_rate = float(error_rate)
        self.seed = seed

    def describe(self) -> dict:
        """Name, prompt kind, error rate and seed."""
        return {"teacher": self.name, "prompt_kind": self.prompt_kind, "error_rate": self.error_rate,
                "seed": self.seed}

    def makes_mistake(self, pair_id: str) -> bool:
        """Whether the first-pass trace for this pair is one of the deliberately wrong ones (seeded)."""
        draw = random.Random(f"rmr1-oracle-mistake|{self.seed}|{pair_id}").random()
        return draw < self.error_rate

    def _complete_batch(self, jobs: list[TraceJob]) -> list[TeacherReply]:
        from .synthetic import oracle_trace

        replies = []
        for job in jobs:
            right = winner_side(job.row["winner"])
            if job.pass_no == 1:
                side = ("B" if right == "A" else "A") if self.makes_mistake(job.pair_id) else right
            else:  # pass 2: the oracle follows the hint's verdict (the correct one)
                side = job.hint_side or right
            # kind authors asks for the output format of its learned prompt (instruct_cor or reasoning_model)
            replies.append(TeacherReply(oracle_trace(job.row, output_format(self.prompt_kind), mistaken=side != right)))
        return replies


class LocalModelTeacher(Teacher):
    """A local model (folder or hub name) through rmr1lib.generation; vLLM unless `engine` names another back-end.

    `engine` holds the generation engine's settings (`rmr1lib.generation.generator_options(profile)`).
    """

    name = "vllm"

    def __init__(self, model: str, *, engine: Optional[dict] = None, max_tokens: int = 8192,
                 temperature: float = 0.0, seed: int = 0):
        super().__init__()
        if not model:
            raise ConfigError("distill.teacher_model: the local teacher needs a model folder or hub name")
        self._engine_kwargs = {"backend": "vllm", "batch_size": 64, **(engine or {}), "seed": seed}
        self.model, self.backend = model, self._engine_kwargs["backend"]
        self.batch_size = self._engine_kwargs["batch_size"]
        self.max_tokens, self.temperature, self.seed = max_tokens, temperature, seed
        self._generator = None

    def describe(self) -> dict:
        """Model, back-end and sampling settings."""
        return {"teacher": self.name, "model": str(self.model), "backend": self.backend,
                "max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed}

    def _complete_batch(self, jobs: list[TraceJob]) -> list[TeacherReply]:
        from .generation import SamplingSettings, load_generator

        if self._generator is None:
            self._generator = load_generator(self.model, **self._engine_kwargs)
        settings = SamplingSettings(max_new_tokens=self.max_tokens, temperature=self.temperature, seed=self.seed)
        texts = self._generator.generate([j.messages for j in jobs], settings)
        return [TeacherReply(t) if t.strip() else TeacherReply(t, "bad_response", "empty completion")
                for t in texts]

    def close(self) -> None:
        """Shut the engine down."""
        if self._generator is not None:
            self._generator.close()
            self._generator = None


class _Secret(str):
    """A string whose repr hides it, so a key never shows in tracebacks with locals, logs or reprs."""

    def __repr__(self) -> str:
        return "'[redacted key]'" if self else "''"


def _strip_userinfo(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
    return urllib.parse.urlunsplit(parts)


class OpenAIChatTeacher(Teacher):
    """An OpenAI-compatible chat completions endpoint; the key is read from the environment and never shown.

    Base URL, model and key come from RMR1_TEACHER_BASE_URL (default the OpenAI API), RMR1_TEACHER_MODEL (or the
    `model` argument, which is how a profile's teacher_model reaches it) and RMR1_TEACHER_API_KEY. The key lives
    only in a private attribute; `repr`, `describe`, errors and saved records never contain it.
    """

    name = "openai"

    def __init__(self, model: Optional[str] = None, *, base_url: Optional[str] = None, max_tokens: int = 8192,
                 temperature: float = 0.0, max_retries: int = 5, timeout: float = 600.0, backoff: float = 2.0,
                 max_backoff: float = 120.0, workers: int = 1, token_field: str = "max_tokens",
                 model_env: str = ENV_MODEL, sleep: Callable[[float], None] = time.sleep):
        super().__init__()
        self.model = os.environ.get(model_env) or model
        if not self.model:
            raise ConfigError(f"the API teacher needs a model name: set {model_env} in the environment "
                              "(or distill.teacher_model in the profile)")
        self.base_url = (base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"{ENV_BASE_URL}: expected an http(s) URL, got {_strip_userinfo(self.base_url)!r}")
        self.__key = _Secret(os.environ.get(ENV_API_KEY, ""))
        self.max_tokens, self.temperature, self.token_field = max_tokens, temperature, token_field
        self.max_retries, self.timeout = int(max_retries), float(timeout)
        self.backoff, self.max_backoff = float(backoff), float(max_backoff)
        self.workers = max(1, int(workers))
        self._sleep = sleep
        self._jitter = random.Random(0)

    # never let the key out -------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        key = self.__key
        return text.replace(key, "[redacted key]") if key and isinstance(text, str) else text

    def __getstate__(self) -> dict:
        raise TypeError("OpenAIChatTeacher holds an API key and cannot be pickled or copied")

    def describe(self) -> dict:
        """Endpoint, model and sampling settings; says whether a key is set, never what it is."""
        return {"teacher": self.name, "base_url": _strip_userinfo(self.base_url), "model": self.model,
                "max_tokens": self.max_tokens, "temperature": self.temperature,
                "key": "set" if self.__key else "not set"}

    # requests --------------------------------------------------------------------------------------------
    def complete(self, jobs: Sequence[TraceJob]) -> Iterator[tuple[TraceJob, TeacherReply]]:
        """Send every job (up to `workers` at once); yield each (job, reply) as it finishes."""
        if self.workers == 1:
            for job in jobs:
                reply = self._request(job.messages)
                self.calls += 1
                yield job, reply
            return
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            futures = {pool.submit(self._request, job.messages): job for job in jobs}
            for fut in concurrent.futures.as_completed(futures):
                self.calls += 1
                yield futures[fut], fut.result()

    def _request(self, messages: Messages) -> TeacherReply:
        url = f"{self.base_url}/chat/completions"
        body = json.dumps({"model": self.model, "messages": messages, self.token_field: self.max_tokens,
                           "temperature": self.temperature}).encode()
        headers = {"Content-Type": "application/json"}
        if self.__key:
            headers["Authorization"] = _Secret(f"Bearer {self.__key}")
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=self.timeout) as r:
                    payload = r.read()
                reply = self._parse(payload)
                reply.attempts = attempt + 1
                return reply
            except urllib.error.HTTPError as exc:
                detail = self._redact(exc.read()[:300].decode("utf-8", "replace")) if exc.fp else ""
                last = f"HTTP {exc.code} from {_strip_userinfo(url)}: {detail.strip()}".strip()
                if exc.code in FATAL_STATUS:
                    raise TeacherError(
                        f"the API teacher at {_strip_userinfo(self.base_url)} (model {self.model!r}) answered "
                        f"HTTP {exc.code}: {FATAL_STATUS[exc.code]}. Check {ENV_API_KEY}, {ENV_MODEL} and "
                        f"{ENV_BASE_URL}. Finished traces are kept; rerun to continue."
                    ) from None
                if exc.code not in RETRY_STATUS:  # e.g. 400: this request is wrong, the others may be fine
                    return TeacherReply(None, "failed", last, attempt + 1)
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
            except (urllib.error.URLError, HTTPException, ConnectionError, socket.timeout, TimeoutError) as exc:
                reason = getattr(exc, "reason", exc)
                last = self._redact(f"{type(exc).__name__} talking to {_strip_userinfo(url)}: {reason}")
            if attempt < self.max_retries:
                self._sleep(self._delay(attempt, retry_after))
        return TeacherReply(None, "failed", f"gave up after {self.max_retries + 1} attempts; last error: {last}",
                            self.max_retries + 1)

    def _delay(self, attempt: int, retry_after: Optional[str]) -> float:
        """Exponential back-off with jitter; a numeric Retry-After header wins (both capped at max_backoff)."""
        if retry_after:
            try:
                return min(self.max_backoff, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + 0.5 * self._jitter.random())

    def _parse(self, payload: bytes) -> TeacherReply:
        snippet = self._redact(payload[:200].decode("utf-8", "replace"))
        try:
            data = json.loads(payload)
            choice = data["choices"][0]
            text = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return TeacherReply(None, "bad_response", f"not a chat completion: {snippet!r}")
        if not isinstance(text, str) or not text.strip():
            return TeacherReply(None, "bad_response", f"empty or non-text content: {snippet!r}")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        usage = {k: v for k, v in usage.items() if isinstance(v, (int, float))}
        if choice.get("finish_reason"):
            usage["finish_reason"] = str(choice["finish_reason"])
        return TeacherReply(self._redact(text), usage=usage)


def make_teacher(profile: Profile, *, second_pass: bool = False, model_path: Optional[str] = None) -> Teacher:
    """The teacher a profile asks for (pass 2 may use another API model: distill.second_pass_model)."""
    d = profile.distill
    if d.teacher == "oracle":
        return OracleTeacher(profile.judge.prompt_kind, 0.0 if second_pass else d.oracle_error_rate, profile.seed)
    if d.teacher == "openai":
        model = d.teacher_model
        if second_pass:
            return OpenAIChatTeacher(d.second_pass_model or model, max_tokens=d.teacher_max_tokens,
                                     temperature=d.teacher_temperature, max_retries=d.max_retries,
                                     workers=d.api_workers,
                                     model_env=ENV_SECOND_MODEL if (os.environ.get(ENV_SECOND_MODEL)
                                                                    or d.second_pass_model) else ENV_MODEL)
        return OpenAIChatTeacher(model, max_tokens=d.teacher_max_tokens, temperature=d.teacher_temperature,
                                 max_retries=d.max_retries, workers=d.api_workers)
    if d.teacher == "vllm":
        from .generation import generator_options

        return LocalModelTeacher(model_path or d.teacher_model, engine=generator_options(profile),
                                 max_tokens=d.teacher_max_tokens, temperature=d.teacher_temperature, seed=profile.seed)
    raise ConfigError(f"distill.teacher {d.teacher!r} has no teacher object (use load_released_traces); "
                      f"choose one of {', '.join(TEACHERS)}")


# ----------------------------------------------------------------------------------------------------------
# the append-only store


class TraceStore:
    """Append-only JSONL of every teacher reply, keyed by (pair id, pass); the latest record of a key wins.

    The file is an `AppendLog`: each reply is fsynced as it arrives, and a last line cut short by a crash is
    removed on opening (its request is made again).
    """

    def __init__(self, path: os.PathLike | str):
        self.log = AppendLog(path, what="teacher reply store (JSON Lines)")
        self.path = self.log.path
        self._records: dict[tuple[str, int], dict] = {}
        for number, rec in self.log.rows():
            try:
                key = (str(rec["pair_id"]), int(rec["pass"]))
            except (ValueError, KeyError, TypeError):
                raise DataError(f"{self.path}, line {number}: not a trace-store record; move the file away to "
                                "start over") from None
            self._records[key] = rec

    @property
    def repaired_bytes(self) -> int:
        """Bytes of an incomplete last line removed when the store was opened."""
        return self.log.repaired_bytes

    def get(self, pair_id: str, pass_no: int) -> Optional[dict]:
        """The latest record for (pair id, pass), or None."""
        return self._records.get((str(pair_id), int(pass_no)))

    def append(self, record: dict) -> None:
        """Write one record durably (flush + fsync) before anything else happens."""
        self.log.append([record])
        self._records[(str(record["pair_id"]), int(record["pass"]))] = record

    def records(self) -> list[dict]:
        """The latest record of every key."""
        return list(self._records.values())

    def __len__(self) -> int:
        return len(self._records)


def is_settled(record: Optional[dict]) -> bool:
    """A stored reply that must not be asked again: a trace, or a reply that was paid for but unusable."""
    return bool(record) and record.get("status") in ("ok", "bad_response")


# ----------------------------------------------------------------------------------------------------------
# the two-pass recipe


@dataclass
class TraceReport:
    """Result of a distillation run: the kept SFT records, every stored attempt and the pass statistics."""

    records: list[dict]
    attempts: list[dict]
    stats: dict
    teacher: dict

    def examples(self, outcome: str, n: int = 3) -> list[dict]:
        """Up to n sampled pairs with an outcome: 'kept_pass1', 'recovered', 'dropped'."""
        by_pair: dict[str, dict] = {}
        for a in self.attempts:
            by_pair.setdefault(a["pair_id"], {})[a["pass"]] = a
        out = []
        for pid, passes in by_pair.items():
            p1, p2 = passes.get(1), passes.get(2)
            got = ("kept_pass1" if p1 and p1.get("correct") else
                   "recovered" if p2 and p2.get("correct") else "dropped")
            if got == outcome:
                out.append({"pair_id": pid, "pass1": p1, "pass2": p2})
            if len(out) >= n:
                break
        return out


def sample_for_teacher(rows: Sequence[dict], fraction: float, max_pairs: int = 0, seed: int = 0) -> list[dict]:
    """A seeded sample (share `fraction`, at most `max_pairs` if > 0) of the rows, in their original order."""
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"distill.sample_fraction must be in (0, 1], got {fraction!r}")
    n = len(rows) if fraction >= 1.0 else max(1, math.ceil(fraction * len(rows))) if rows else 0
    if max_pairs and max_pairs > 0:
        n = min(n, max_pairs)
    if n >= len(rows):
        return list(rows)
    chosen = sorted(random.Random(f"rmr1-distill-sample|{seed}").sample(range(len(rows)), n))
    return [rows[i] for i in chosen]


def _check_rows(rows: Sequence[dict]) -> None:
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not row["id"]:
            raise DataError(f"distillation rows: row {i} has no string 'id'")
        if row["id"] in seen:
            raise DataError(f"distillation rows: id {row['id']!r} appears twice (row {i}); ids key the trace store")
        seen.add(row["id"])
        try:
            winner_side(row.get("winner"))
        except DataError as exc:
            raise DataError(f"distillation rows: row {i} (id {row['id']!r}): {exc}") from None


def _sft_record(row: dict, messages: Messages, text: str, pass_no: int, teacher: dict) -> dict:
    return {"id": row["id"], "prompt": messages, "completion": [{"role": "assistant", "content": text}],
            "winner": row["winner"], "category": row.get("category"), "source": row.get("source"),
            "pass": pass_no, "teacher": teacher.get("teacher")}


def _run_pass(jobs: list[TraceJob], teacher: Teacher, store: TraceStore, window: int,
              progress: Optional[Callable[[str], None]], label: str) -> int:
    """Ask the teacher for every job, storing each reply as it arrives; returns how many requests were made."""
    if not jobs:
        return 0
    made, started, described = 0, time.time(), teacher.describe()
    line = ProgressLine(f"teacher {label}", len(jobs), interval=15.0, unit="trace")
    for job, reply in teacher.complete(jobs):
        made += 1
        verdict = trace_verdict(reply.text, window) if reply.status == "ok" else None
        right = winner_side(job.row["winner"])
        store.append({"pair_id": job.pair_id, "pass": job.pass_no, "status": reply.status, "text": reply.text,
                      "verdict": verdict, "winner": job.row["winner"], "correct": verdict == right,
                      "error": reply.error, "attempts": reply.attempts, "usage": reply.usage,
                      "teacher": described, "time": round(time.time() - started, 3)})
        due = line.update(made) if progress else None
        if due:  # the first reply, then one every 15 s, and the last
            progress(due)
    return made


def run_two_pass(rows: Sequence[dict], teacher: Teacher, store_path: os.PathLike | str, *,
                 prompt_kind: str = "instruct_cor", window: int = CORRECTNESS_WINDOW, second_pass: bool = True,
                 second_teacher: Optional[Teacher] = None,
                 progress: Optional[Callable[[str], None]] = None) -> TraceReport:
    """The paper's recipe: trace every pair, keep right ones, re-ask wrong ones with a hint, keep right ones.

    Resumable: replies already in the store (by pair id and pass) are reused, never requested again; only
    requests that got no reply at all ('failed') are retried on a rerun.
    """
    check_prompt_kind(prompt_kind)
    _check_rows(rows)
    store = TraceStore(store_path)
    repair = second_teacher or teacher
    prompts = {r["id"]: teacher_messages(r, prompt_kind) for r in rows}

    todo1 = [TraceJob(r["id"], 1, prompts[r["id"]], r) for r in rows if not is_settled(store.get(r["id"], 1))]
    calls1 = _run_pass(todo1, teacher, store, window, progress, "pass 1")

    todo2: list[TraceJob] = []
    if second_pass:
        for r in rows:
            p1 = store.get(r["id"], 1)
            if is_settled(p1) and not p1["correct"] and not is_settled(store.get(r["id"], 2)):
                side = winner_side(r["winner"])
                todo2.append(TraceJob(r["id"], 2, hint_messages(prompts[r["id"]], side, p1.get("text")), r, side))
    calls2 = _run_pass(todo2, repair, store, window, progress, "pass 2")

    records, attempts = [], []
    drops = dict.fromkeys(DROP_REASONS, 0)
    n_answered1 = n_correct1 = n_asked2 = n_correct2 = 0
    for r in rows:
        p1, p2 = store.get(r["id"], 1), store.get(r["id"], 2) if second_pass else None
        attempts += [a for a in (p1, p2) if a]
        if p1 is None or p1["status"] == "failed":
            drops["request_failed"] += 1
            continue
        n_answered1 += p1["status"] == "ok"
        if p1["correct"]:
            n_correct1 += 1
            records.append(_sft_record(r, prompts[r["id"]], p1["text"], 1, p1["teacher"]))
            continue
        if not second_pass:
            drops["bad_response" if p1["status"] == "bad_response" else "wrong_no_pass2"] += 1
            continue
        if p2 is None or p2["status"] == "failed":
            drops["request_failed"] += 1
            continue
        n_asked2 += 1
        if p2["correct"]:
            n_correct2 += 1
            records.append(_sft_record(r, prompts[r["id"]], p2["text"], 2, p2["teacher"]))
        else:
            drops["bad_response" if p2["status"] == "bad_response" else "wrong_after_pass2"] += 1
    n = len(rows)
    stats = {
        "pairs": n,
        "pass1_replies": sum(1 for r in rows if is_settled(store.get(r["id"], 1))),
        "pass1_traces": n_answered1,
        "pass1_correct": n_correct1,
        "pass1_accuracy": n_correct1 / n if n else 0.0,
        "pass2_asked": n_asked2,
        "pass2_correct": n_correct2,
        "pass2_recovery": n_correct2 / n_asked2 if n_asked2 else 0.0,
        "kept": len(records),
        "kept_share": len(records) / n if n else 0.0,
        "dropped": n - len(records),
        "drop_reasons": drops,
        "requests_this_run": {"pass1": calls1, "pass2": calls2},
        "window": window,
        "second_pass": second_pass,
    }
    described = {"pass1": teacher.describe(), "pass2": repair.describe() if second_pass else None}
    return TraceReport(records, attempts, stats, described)


# ----------------------------------------------------------------------------------------------------------
# the released traces


def released_records(rows: Iterable[dict], window: int = CORRECTNESS_WINDOW) -> tuple[list[dict], dict]:
    """SFT records from released Distill-SFT rows as `rmr1lib.data.load_released` returns them, with stats."""
    records, labelled, agree = [], 0, 0
    for row in rows:
        trace = row["trace"]
        try:
            label = winner_side((row.get("meta") or {}).get("ground_truth"))
        except DataError:
            label = None  # ground_truth is not a side label: nothing to compare with
        if label is not None:
            labelled += 1
            agree += trace_verdict(trace, window) == label
        records.append({"id": row["id"], "prompt": row["context_messages"],
                        "completion": [{"role": "assistant", "content": trace}], "winner": row["winner"],
                        "category": row.get("category"), "source": row.get("source"), "pass": None,
                        "teacher": "released"})
    stats = {"kept": len(records), "with_label": labelled,
             "verdict_agrees_with_label": agree / labelled if labelled else None}
    return records, stats


def load_released_traces(source: str = RELEASED_DATASET, limit: int = 0,
                         window: int = CORRECTNESS_WINDOW) -> tuple[list[dict], dict]:
    """The authors' released traces (hub name, or a local .jsonl/.json file in that schema) as SFT records.

    Loading and schema checks are `rmr1lib.data.load_released("distill_sft", ...)` (datasets is imported only
    for a hub name); rows that break the schema or whose trace has no readable verdict are dropped and counted.
    """
    from .data import MixReport, RELEASED_SETS, hub_records, load_released

    path = local_path(source) or Path(source).expanduser()  # relative: from here or from the workbook folder
    if path.suffix in (".jsonl", ".json") and path.is_file():
        given: Any = path
    elif path.suffix:
        raise ConfigError(f"distill.released_source {source!r}: expected a hub name or an existing .jsonl/.json file")
    else:
        given = None if source == RELEASED_SETS["distill_sft"].hub_id else hub_records(source)
    mix = MixReport()
    rows = load_released("distill_sft", given, origin=str(source), skip_bad_rows=True, limit=limit, report=mix)
    records, stats = released_records(rows, window)
    loaded = mix.loaded.get("distill_sft", len(rows))
    return records, {"source": str(source), "rows": loaded, **stats, "malformed": loaded - len(rows),
                     "malformed_reasons": mix.reasons_table()}


def collect_traces(profile: Profile, rows: Sequence[dict], store_path: os.PathLike | str, *,
                   progress: Optional[Callable[[str], None]] = None) -> TraceReport:
    """Distillation data as the profile asks: the two-pass recipe with its teacher, or the released traces."""
    d = profile.distill
    if d.teacher == "released":
        records, stats = load_released_traces(d.released_source, limit=d.max_pairs, window=d.correctness_window)
        return TraceReport(records, [], {"pairs": stats["rows"], **stats}, {"pass1": {"teacher": "released"}})
    sample = sample_for_teacher(rows, d.sample_fraction, d.max_pairs, profile.seed)
    first = make_teacher(profile)
    second = make_teacher(profile, second_pass=True) if d.second_pass else None
    try:
        return run_two_pass(sample, first, store_path, prompt_kind=profile.judge.prompt_kind,
                            window=d.correctness_window, second_pass=d.second_pass, second_teacher=second,
                            progress=progress)
    finally:
        first.close()
        if second is not None:
            second.close()


_STAT_LABELS = (
    ("pairs", "pairs sent to the teacher"),
    ("pass1_correct", "pass 1: right verdict"),
    ("pass1_accuracy", "pass 1: accuracy"),
    ("pass2_asked", "pass 2: re-asked with the hint"),
    ("pass2_correct", "pass 2: right verdict"),
    ("pass2_recovery", "pass 2: recovery rate"),
    ("kept", "traces kept for SFT"),
    ("dropped", "pairs dropped"),
    ("malformed", "released rows: malformed"),
    ("verdict_agrees_with_label", "released rows: verdict agrees with label"),
)


def summary_rows(report: TraceReport) -> list[tuple[str, Any]]:
    """(label, value) rows of the pass statistics, then one row per drop reason (for a table)."""
    rows = [(label, round(v, 3) if isinstance(v, float) else v)
            for key, label in _STAT_LABELS if (v := report.stats.get(key)) is not None]
    rows += [(f"dropped: {reason.replace('_', ' ')}", n) for reason, n in report.stats.get("drop_reasons", {}).items()]
    return rows


def report_summary(report: TraceReport) -> dict:
    """Plain-data summary of a distillation run for the manifest and the notebook (no trace texts)."""
    return {"stats": report.stats, "teacher": report.teacher,
            "records_sha": content_hash([[r["prompt"], r["completion"]] for r in report.records])
            if report.records else None}


__all__ = [
    "TEACHERS", "ENV_BASE_URL", "ENV_MODEL", "ENV_SECOND_MODEL", "ENV_API_KEY", "RELEASED_DATASET",
    "TeacherError", "TraceJob", "TeacherReply", "Teacher", "OracleTeacher", "LocalModelTeacher",
    "OpenAIChatTeacher", "make_teacher", "TraceStore", "TraceReport", "validate_prompt", "teacher_messages",
    "hint_messages",
    "trace_verdict", "sample_for_teacher", "run_two_pass", "released_records", "load_released_traces",
    "collect_traces", "summary_rows", "report_summary", "is_settled",
]
