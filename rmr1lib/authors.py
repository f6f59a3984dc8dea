"""The authors' judge prompt (prompt kind `authors`), learned at run time from their released rows.

The released RM-R1 checkpoints and the released RL and SFT sets were made with the authors' own prompt wording
and delimiters. This repository never contains that wording: it learns the template from the released rows'
`context_messages` when a run needs it, and keeps it only in memory and in the run's artifacts.

How the template is learned (what stays the same between rows is template, what changes is a slot):

* The system message (instruct judges) must be identical in every row; it is taken as it is. Reasoning-model
  rows have no system message: the instruction lives in the user message, around the pair.
* Rows come in two layouts. Rows are grouped by the text they start with (sorted, split where neighbours share
  the shortest prefix); a group's layout is whichever of the two models below fits it.
* Single turn: user message = head + question + after_question + response A + between + response B + tail.
  head and tail are the prefix and suffix every row shares; the two inner delimiters are the longest strings
  that occur exactly once in every row's middle, found recursively (longest first).
* Multi-turn: user message = head + conversation A + middle + conversation B + tail, where `middle` is the
  longest string that occurs exactly once in every row between head and tail. Inside a conversation every turn
  after the first starts with a marker: the chatbot's marker is the longest string found in every row's
  conversation A and never in any conversation B (and the other way round); the client's marker is the longest
  string every "assistant reply + next client turn" piece shares. What comes before the first turn's text is
  learned per role (a user or a system turn) from the rows that start that way.
* The template is then checked on rows it did not learn from: each must parse into a question and two
  responses (single turn) or two conversations that share the client's turns (multi-turn), and rendering
  those again must give the row's text exactly. A checked row that does not fit joins the sample and its layout
  is learned again, but only a case the sample lacked may be added that way (a conversation opening with a
  system turn, a second client turn); a row whose delimiters differ stops the learning with its index.

The released multi-turn rows carry a label leak: the side name "Chatbot B" is misspelt exactly when the winner
is A. `label_leak` counts it; `normalise_label_leak` writes the correct spelling. The learner normalises before
learning (otherwise the template would depend on the label) and reports the counts.

Learning uses a seeded sample of rows (at most `max_learn` = 200 per layout; texts longer than `max_chars` are
left out), enough that no text shared by chance (every question ending in "?") passes for template. It takes
well under a second on 20,000 rows (measured on a synthetic set in the released schema).

Pure core: standard library only.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional, Sequence

from .errors import ConfigError, DataError
from .files import content_hash
from .prompts import AUTHORS_KIND, is_single_turn

#: The misspelt side name the released multi-turn rows carry when the winner is A, and its correct spelling.
MISSPELT_SIDE = "Chabot B"
CORRECT_SIDE = "Chatbot B"
MIN_ANCHOR = 4          # shortest delimiter the learner accepts
MIN_LEARN = 4           # rows of a layout needed to learn it
MAX_LEARN = 200         # rows of a layout the learner reads (a seeded sample; many, so no chance text is template)
MAX_CHECK = 512         # rows checked against the learned template
MAX_CHARS = 12_000      # longer user messages are left out of learning (they cost time, teach nothing new)

Message = dict


# ----------------------------------------------------------------------------------------------------------
# the label leak
# ----------------------------------------------------------------------------------------------------------
def label_leak(rows: Iterable[dict]) -> dict:
    """Count rows whose prompt contains the misspelt side name, by label: {rows, with_misspelling, by_winner}."""
    total, found, by_winner = 0, 0, {}
    for row in rows:
        total += 1
        winner = str(row.get("winner", "")) if isinstance(row, dict) else ""
        winner = winner if winner in ("model_a", "model_b") else "other"
        texts = [m.get("content", "") for m in (row.get("context_messages") or []) if isinstance(m, dict)]
        hit = any(isinstance(t, str) and MISSPELT_SIDE in t for t in texts)
        found += hit
        entry = by_winner.setdefault(winner, {"rows": 0, "with_misspelling": 0})
        entry["rows"] += 1
        entry["with_misspelling"] += hit
    leak = bool(found) and set(w for w, e in by_winner.items() if e["with_misspelling"]) == {"model_a"}
    return {"rows": total, "with_misspelling": found, "by_winner": by_winner,
            "predicts_label": leak, "misspelling": MISSPELT_SIDE, "correct": CORRECT_SIDE}


def normalise_label_leak(messages: Sequence[Message]) -> tuple[list[Message], bool]:
    """(messages with the misspelt side name corrected, whether anything changed)."""
    out, changed = [], False
    for m in messages:
        content = m.get("content")
        if isinstance(content, str) and MISSPELT_SIDE in content:
            out.append({**m, "content": content.replace(MISSPELT_SIDE, CORRECT_SIDE)})
            changed = True
        else:
            out.append(dict(m))
    return out, changed


# ----------------------------------------------------------------------------------------------------------
# string helpers
# ----------------------------------------------------------------------------------------------------------
def _prefix(texts: Sequence[str]) -> str:
    return os.path.commonprefix(list(texts))


def _suffix(texts: Sequence[str]) -> str:
    return _prefix([t[::-1] for t in texts])[::-1]


def _common_at(regions: Sequence[str], length: int) -> set[str]:
    """Every string of `length` characters found in all regions."""
    shortest = min(regions, key=len)
    found = {shortest[i:i + length] for i in range(len(shortest) - length + 1)}
    for region in sorted(regions, key=len):
        if not found:
            break
        found = {c for c in found if c in region}
    return found


def longest_common(regions: Sequence[str], *, unique: bool = False, exclude: Sequence[str] = (),
                   min_len: int = MIN_ANCHOR) -> Optional[str]:
    """The longest string found in every region (exactly once each when `unique`) and in none of `exclude`."""
    if not regions or min(len(r) for r in regions) < min_len:
        return None
    low, high = min_len, min(len(r) for r in regions)
    if not _common_at(regions, low):
        return None
    while low < high:  # the longest length with any common string (that property is monotone)
        mid = (low + high + 1) // 2
        if _common_at(regions, mid):
            low = mid
        else:
            high = mid - 1
    shortest = min(regions, key=len)
    for length in range(low, min_len - 1, -1):
        found = [c for c in _common_at(regions, length)
                 if (not unique or all(r.count(c) == 1 for r in regions)) and not any(c in e for e in exclude)]
        if found:
            return min(found, key=lambda c: (shortest.find(c), c))
    return None


def _anchors(regions: Sequence[str], depth: int = 0) -> list[str]:
    """The delimiters every region holds exactly once, in order (longest found first, then each side)."""
    if depth > 8 or not regions:
        return []
    anchor = longest_common(regions, unique=True)
    if anchor is None:
        return []
    left = [r.split(anchor, 1)[0] for r in regions]
    right = [r.split(anchor, 1)[1] for r in regions]
    return _anchors(left, depth + 1) + [anchor] + _anchors(right, depth + 1)


# ----------------------------------------------------------------------------------------------------------
# the two layouts
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SingleTurnLayout:
    """head + question + after_question + response A + between + response B + tail."""

    head: str
    after_question: str
    between: str
    tail: str

    def render(self, question: str, response_a: str, response_b: str) -> str:
        """The user-message text for one question and two responses."""
        return self.head + question + self.after_question + response_a + self.between + response_b + self.tail

    def parse(self, text: str) -> Optional[tuple[str, str, str]]:
        """(question, response A, response B) of a text in this layout, or None."""
        if len(text) < len(self.head) + len(self.tail) or not text.startswith(self.head) \
                or not text.endswith(self.tail):
            return None
        middle = text[len(self.head):len(text) - len(self.tail)]
        i = middle.find(self.after_question)
        j = middle.find(self.between, i + len(self.after_question)) if i >= 0 else -1
        if i < 0 or j < 0:
            return None
        return middle[:i], middle[i + len(self.after_question):j], middle[j + len(self.between):]


@dataclass(frozen=True)
class MultiTurnLayout:
    """head + conversation A + middle + conversation B + tail; turns joined by role markers."""

    head: str
    middle: str
    tail: str
    mark_a: str                      # before each of chatbot A's turns
    mark_b: str                      # before each of chatbot B's turns
    mark_user: Optional[str]         # before each client turn after the first (None: never seen)
    first_user: Optional[str]        # before the first turn when it is the client's ('' when part of head)
    first_system: Optional[str]      # before the first turn when it is a system turn (None: never seen)

    def _conversation(self, conversation: Sequence[Message], side: str) -> str:
        parts = []
        for i, m in enumerate(conversation):
            role = m["role"]
            if i == 0:
                mark = {"user": self.first_user, "system": self.first_system}.get(role)
                if mark is None:
                    raise DataError(
                        f"the authors' multi-turn layout for a conversation that starts with a {role!r} turn was not "
                        "seen in the released rows the template was learned from (learn from more rows)")
            elif role == "assistant":
                mark = self.mark_a if side == "A" else self.mark_b
            elif role == "user":
                mark = self.mark_user
                if mark is None:
                    raise DataError("the released rows the template was learned from have no conversation with a "
                                    "second client turn, so the authors' marker for it is unknown "
                                    "(learn from more rows)")
            else:
                raise DataError(f"the authors' multi-turn layout has no place for a {role!r} turn at position {i}")
            parts.append(mark + m["content"])
        return "".join(parts)

    def render(self, conversation_a: Sequence[Message], conversation_b: Sequence[Message]) -> str:
        """The user-message text for two conversations that share the client's turns."""
        return (self.head + self._conversation(conversation_a, "A") + self.middle
                + self._conversation(conversation_b, "B") + self.tail)

    def _turns(self, block: str, mark: str) -> Optional[list[str]]:
        pieces = block.split(mark)
        return pieces if len(pieces) >= 2 else None

    def parse(self, text: str) -> Optional[tuple[list[Message], list[Message]]]:
        """(conversation A, conversation B) of a text in this layout, or None."""
        if len(text) < len(self.head) + len(self.tail) or not text.startswith(self.head) \
                or not text.endswith(self.tail):
            return None
        inner = text[len(self.head):len(text) - len(self.tail)]
        k = inner.find(self.middle)
        if k < 0:
            return None
        pieces_a = self._turns(inner[:k], self.mark_a)
        pieces_b = self._turns(inner[k + len(self.middle):], self.mark_b)
        if pieces_a is None or pieces_b is None or len(pieces_a) != len(pieces_b):
            return None
        first = self._first_turns(pieces_a[0])
        if first is None or first != self._first_turns(pieces_b[0]):
            return None
        conv_a, conv_b = list(first), list(first)
        for n in range(1, len(pieces_a)):
            last = n == len(pieces_a) - 1
            split = (pieces_a[n], "", pieces_b[n], "") if last else self._split_client(pieces_a[n], pieces_b[n])
            if split is None:
                return None
            reply_a, client, reply_b, _ = split
            conv_a.append({"role": "assistant", "content": reply_a})
            conv_b.append({"role": "assistant", "content": reply_b})
            if not last:
                conv_a.append({"role": "user", "content": client})
                conv_b.append({"role": "user", "content": client})
        return conv_a, conv_b

    def _first_turns(self, piece: str) -> Optional[list[Message]]:
        """The client's turns before the first reply (optionally after a system turn)."""
        if self.first_system is not None and self.mark_user and self.mark_user in piece \
                and piece.startswith(self.first_system):
            system, user = piece[len(self.first_system):].split(self.mark_user, 1)
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]
        if self.first_user is None or not piece.startswith(self.first_user):
            return None
        return [{"role": "user", "content": piece[len(self.first_user):]}]

    def _split_client(self, piece_a: str, piece_b: str) -> Optional[tuple[str, str, str, str]]:
        """(reply A, client turn, reply B, '') for pieces 'reply + client marker + client turn' of both sides."""
        if not self.mark_user:
            return None
        start = piece_a.find(self.mark_user)
        while start >= 0:
            client = piece_a[start + len(self.mark_user):]
            if piece_b.endswith(self.mark_user + client):
                return piece_a[:start], client, piece_b[:len(piece_b) - len(self.mark_user + client)], ""
            start = piece_a.find(self.mark_user, start + 1)
        return None


@dataclass(frozen=True)
class AuthorsTemplate:
    """The authors' prompt as learned from released rows: system message and the two pair layouts."""

    system: Optional[str]
    single: Optional[SingleTurnLayout]
    multi: Optional[MultiTurnLayout]
    report: dict = field(default_factory=dict, compare=False)

    @property
    def output_format(self) -> str:
        """The built-in kind whose output format this prompt asks for (instruct_cor or reasoning_model)."""
        return "instruct_cor" if self.system is not None else "reasoning_model"

    def fingerprint(self) -> str:
        """A content hash of the template (recorded with results, so a different template is noticed)."""
        data = self.as_dict()
        data.pop("report")
        return content_hash(data)

    def as_dict(self) -> dict:
        """Plain data (a run artifact; it holds the authors' wording, so it never goes into the repository)."""
        return {"system": self.system, "single": asdict(self.single) if self.single else None,
                "multi": asdict(self.multi) if self.multi else None, "report": dict(self.report)}

    @classmethod
    def from_dict(cls, data: Any, where: str = "authors template") -> "AuthorsTemplate":
        """The template saved by `as_dict`; DataError names what is missing."""
        if not isinstance(data, dict) or not {"system", "single", "multi"} <= set(data):
            raise DataError(f"{where}: expected keys system, single, multi (as AuthorsTemplate.as_dict writes)")
        try:
            single = SingleTurnLayout(**data["single"]) if data["single"] else None
            multi = MultiTurnLayout(**data["multi"]) if data["multi"] else None
        except TypeError as exc:
            raise DataError(f"{where}: a layout has the wrong keys ({exc})") from None
        return cls(data["system"], single, multi, dict(data.get("report") or {}))

    def user_text(self, conversation_a: Sequence[Message], conversation_b: Sequence[Message]) -> str:
        """The user-message text for a validated pair, in the authors' single- or multi-turn layout."""
        if is_single_turn(conversation_a, conversation_b):
            if self.single is None:
                raise DataError("the released rows the template was learned from hold no single-turn pair, so the "
                                "authors' single-turn layout is unknown (learn from rows of both layouts)")
            return self.single.render(conversation_a[0]["content"], conversation_a[1]["content"],
                                      conversation_b[1]["content"])
        if self.multi is None:
            raise DataError("the released rows the template was learned from hold no multi-turn pair, so the "
                            "authors' multi-turn layout is unknown (learn from rows of both layouts)")
        return self.multi.render(conversation_a, conversation_b)

    def messages(self, conversation_a: Sequence[Message], conversation_b: Sequence[Message]) -> list[Message]:
        """The judge's chat messages for a validated pair: [system, user], or [user] for reasoning models."""
        user = {"role": "user", "content": self.user_text(conversation_a, conversation_b)}
        return [{"role": "system", "content": self.system}, user] if self.system is not None else [user]

    def parse(self, messages: Sequence[Message]) -> Optional[tuple[list[Message], list[Message]]]:
        """The two conversations behind a prompt in this template, or None when it does not fit."""
        shape = ["system", "user"] if self.system is not None else ["user"]
        if [m.get("role") for m in messages] != shape or (self.system is not None
                                                           and messages[0].get("content") != self.system):
            return None
        text = messages[-1]["content"]
        if self.single is not None:
            found = self.single.parse(text)
            if found is not None:
                q, a, b = found
                return ([{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                        [{"role": "user", "content": q}, {"role": "assistant", "content": b}])
        if self.multi is not None:
            return self.multi.parse(text)
        return None


# ----------------------------------------------------------------------------------------------------------
# learning
# ----------------------------------------------------------------------------------------------------------
def _learn_single(texts: Sequence[str]) -> Optional[SingleTurnLayout]:
    head = _prefix(texts)
    tail = _suffix([t[len(head):] for t in texts])
    middles = [t[len(head):len(t) - len(tail)] for t in texts]
    anchors = _anchors(middles)
    if len(anchors) != 2:
        return None
    layout = SingleTurnLayout(head, anchors[0], anchors[1], tail)
    return layout if all(layout.parse(t) is not None for t in texts) else None


def _trimmed(mark: str, regions: Sequence[str]) -> str:
    """`mark` without characters that only chance put next to it: while dropping the first (last) character
    makes the mark occur more often somewhere, those occurrences show that character is content, not marker."""
    counts = lambda s: [r.count(s) for r in regions]  # noqa: E731
    while len(mark) > 2 and counts(mark[1:]) != counts(mark):
        mark = mark[1:]
    while len(mark) > 2 and counts(mark[:-1]) != counts(mark):
        mark = mark[:-1]
    return mark


def _learn_multi(texts: Sequence[str]) -> Optional[MultiTurnLayout]:
    head = _prefix(texts)
    tail = _suffix([t[len(head):] for t in texts])
    inner = [t[len(head):len(t) - len(tail)] for t in texts]
    middle = longest_common(inner, unique=True)
    if middle is None:
        return None
    side_a = [t.split(middle, 1)[0] for t in inner]
    side_b = [t.split(middle, 1)[1] for t in inner]
    mark_a = longest_common(side_a, exclude=side_b, min_len=2)
    mark_b = longest_common(side_b, exclude=side_a, min_len=2)
    if mark_a is None or mark_b is None:
        return None
    mark_a, mark_b = _trimmed(mark_a, side_a), _trimmed(mark_b, side_b)
    pieces = [(a.split(mark_a), b.split(mark_b)) for a, b in zip(side_a, side_b)]
    if any(len(pa) != len(pb) or len(pa) < 2 for pa, pb in pieces):
        return None
    between = [p for pa, pb in pieces for p in pa[1:-1] + pb[1:-1]]  # reply + client marker + client turn
    mark_user = longest_common(between, unique=True, min_len=2) if between else None
    if mark_user is not None:
        mark_user = _trimmed(mark_user, side_a + side_b)
    firsts = [pa[0] for pa, _ in pieces]
    with_system = [f for f in firsts if mark_user and mark_user in f]
    user_first = [f for f in firsts if not (mark_user and mark_user in f)]
    first_user = _prefix(user_first) if len(user_first) >= 2 else ("" if user_first else None)
    first_system = _prefix([f.split(mark_user, 1)[0] for f in with_system]) if len(with_system) >= 2 else None
    layout = MultiTurnLayout(head, middle, tail, mark_a, mark_b, mark_user, first_user, first_system)
    # a lone row that opens with a system turn cannot teach where its label ends: it may stay unfit
    unfit = [f for f, t in zip(firsts, texts) if not _fits(layout, t)]
    if any(not (mark_user and mark_user in f and first_system is None) for f in unfit) or len(unfit) > 1:
        return None
    return layout


def _fits(layout: Any, text: str) -> bool:
    """The text parses in the layout, and rendering what was parsed gives the text back exactly."""
    found = layout.parse(text)
    if found is None:
        return False
    try:
        return layout.render(*found) == text
    except DataError:
        return False


def _groups(texts: dict[int, str]) -> list[list[int]]:
    """Row indices grouped by opening text: sorted, split where neighbours share the shortest prefix (once)."""
    order = sorted(texts, key=lambda i: texts[i])
    if len(order) < 2 * MIN_LEARN:
        return [order]
    shared = [len(_prefix([texts[a], texts[b]])) for a, b in zip(order, order[1:])]
    lowest = min(shared)
    if shared.count(lowest) != 1:
        return [order]
    cut = shared.index(lowest) + 1
    if cut < MIN_LEARN + 1 or len(order) - cut < MIN_LEARN + 1:
        return [order]
    return [order[:cut], order[cut:]]


def _learn_group(texts: Sequence[str]) -> tuple[str, Any]:
    single = _learn_single(texts)
    if single is not None:
        return "single", single
    multi = _learn_multi(texts)
    if multi is not None:
        return "multi", multi
    return "", None


def _checked_rows(rows: Iterable[Any]) -> list[list[Message]]:
    """The context_messages of every row, checked; DataError names the row and the field."""
    out = []
    for i, row in enumerate(rows):
        where = f"released row {i}"
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected an object with 'context_messages', got {type(row).__name__}")
        messages = row.get("context_messages")
        if not isinstance(messages, list) or not messages:
            raise DataError(f"{where}: field 'context_messages' must be a non-empty list of messages")
        for j, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user") \
                    or not isinstance(m.get("content"), str):
                raise DataError(f"{where}: context_messages[{j}] must be a system or user message with str content")
        shape = [m["role"] for m in messages]
        if shape not in (["system", "user"], ["user"]):
            raise DataError(f"{where}: context_messages has roles {shape}; the released prompts are [system, user] "
                            "(instruct judges) or [user] (reasoning models)")
        out.append(messages)
    return out


def _same_frame(old: Any, new: Any) -> bool:
    """Whether a layout learned again from more rows keeps everything the first one knew: only a case it had not
    seen may be added (a conversation opening with a system turn, a second client turn). A single-turn layout
    has no such cases, so it must come out the same."""
    if isinstance(old, SingleTurnLayout) or not isinstance(new, MultiTurnLayout):
        return old == new
    # the text before the first client turn, wherever the learner put the line between delimiter and label
    opening = lambda layout, part: part + (layout.first_user or "")  # noqa: E731
    system = lambda layout: None if layout.first_system is None else layout.head + layout.first_system  # noqa: E731
    return ((old.tail, old.mark_a, old.mark_b) == (new.tail, new.mark_a, new.mark_b)
            and old.mark_user in (None, new.mark_user)
            and opening(old, old.head) == opening(new, new.head)
            and opening(old, old.middle) == opening(new, new.middle)
            and (old.first_system is None or system(old) == system(new)))


def _layout_of(layouts: dict, text: str) -> str:
    """Which learned layout a text opens most like (the longest prefix shared with the layout's head)."""
    shared = {k: len(_prefix([text, layout.head])) for k, layout in layouts.items()}
    return max(shared, key=shared.__getitem__) if shared else ""


def learn_authors_template(rows: Iterable[Any], *, source: str = "", seed: int = 0, max_learn: int = MAX_LEARN,
                           max_check: int = MAX_CHECK, max_chars: int = MAX_CHARS) -> AuthorsTemplate:
    """Learn the authors' prompt from released rows (`context_messages`, `winner`) and check it on other rows.

    A seeded sample of at most `max_learn` rows per layout is learned from; up to `max_check` others are
    checked. A checked row that does not fit joins the sample and the layout is learned again (a few rounds),
    so a rare case (a conversation opening with a system turn) is learned when the rows hold it. Raises
    DataError when the rows disagree (different system messages, a row that still does not fit) or are too few
    (each layout present needs at least MIN_LEARN + 1 rows).
    """
    where = source or "released rows"
    rows = list(rows)
    leak = label_leak(rows)
    prompts = [normalise_label_leak(m)[0] for m in _checked_rows(rows)]
    if not prompts:
        raise DataError(f"{where}: no rows to learn the authors' prompt from")
    for i, p in enumerate(prompts):
        if len(p) != len(prompts[0]):
            raise DataError(f"released row {i}: its prompt has {len(p)} message(s) but row 0 has "
                            f"{len(prompts[0])}; mix rows of one released set only")
    system = prompts[0][0]["content"] if len(prompts[0]) == 2 else None
    for i, p in enumerate(prompts):
        if system is not None and p[0]["content"] != system:
            raise DataError(f"released row {i}: its system message differs from row 0's; the authors' template "
                            "has one system prompt (mix rows of one released set only)")
    texts = {i: p[-1]["content"] for i, p in enumerate(prompts) if len(p[-1]["content"]) <= max_chars}
    order = list(texts)
    random.Random(f"rmr1-authors|{seed}").shuffle(order)
    rank = {i: n for n, i in enumerate(order)}
    pool = {i: texts[i] for i in order[: 4 * max_learn + max_check]}
    layouts: dict[str, Any] = {}
    learned: dict[str, list[int]] = {}
    for group in _groups(pool):
        members = sorted(group, key=rank.__getitem__)
        if len(members) < MIN_LEARN + 1:
            raise DataError(f"{where}: only {len(members)} rows share this opening (rows {members[:5]}); at least "
                            f"{MIN_LEARN + 1} rows of each layout are needed")
        sample = members[: min(max_learn, len(members) - 1)]
        kind, layout = _learn_group([pool[i] for i in sample])
        if layout is None:
            raise DataError(f"{where}: could not find a single-turn or multi-turn template shared by released rows "
                            f"{sample[:8]}...; are they all from one released set?")
        if kind in layouts:  # the split was by chance: one layout after all, learn it from both groups
            sample = learned[kind] + sample
            kind, layout = _learn_group([pool[i] for i in sample])
            if layout is None or kind not in layouts:
                raise DataError(f"{where}: rows {sample[:8]}... look alike but share no template")
        layouts[kind], learned[kind] = layout, sample
    checked = {"single": 0, "multi": 0}
    for _ in range(4):  # check; rows that do not fit join the sample and their layout is learned again
        template = AuthorsTemplate(system, layouts.get("single"), layouts.get("multi"))
        used = {i for s in learned.values() for i in s}
        unfit, checked = [], {"single": 0, "multi": 0}
        for i in [i for i in order if i not in used][:max_check]:
            conversations = template.parse(prompts[i])
            if conversations is None or template.messages(*conversations) != prompts[i]:
                unfit.append(i)
            else:
                checked["single" if is_single_turn(*conversations) else "multi"] += 1
        if not unfit:
            break
        grown = set()
        for i in unfit[:8]:
            kind = _layout_of(layouts, texts[i])
            if kind:
                learned[kind].append(i)
                grown.add(kind)
        relearned = {k: _learn_group([texts[i] for i in learned[k]]) for k in grown}
        if not grown or any(kind != k or layout is None or not _same_frame(layouts[k], layout)
                            for k, (kind, layout) in relearned.items()):
            break
        layouts.update({k: layout for k, (_, layout) in relearned.items()})
    if unfit:
        raise DataError(f"{where}: released row {unfit[0]} does not fit the template learned from rows "
                        f"{sorted(used)[:8]}...; check that all rows come from one released set, or learn from more "
                        "rows (max_learn)")
    if not sum(checked.values()):
        raise DataError(f"{where}: no row was left to check the learned template against; give more rows than "
                        f"the {len(used)} learned from")
    report = {"source": source, "rows": len(rows), "learned_from": {k: len(v) for k, v in learned.items()},
              "learned_rows": sorted(used),
              "checked": checked, "layouts": sorted(layouts), "system_prompt": system is not None,
              "label_leak": leak, "seed": seed}
    return AuthorsTemplate(system, template.single, template.multi, report)


# ----------------------------------------------------------------------------------------------------------
# the template in use (one per process: every stage of a run renders with the same one)
# ----------------------------------------------------------------------------------------------------------
_CURRENT: dict[str, Optional[AuthorsTemplate]] = {"template": None}


def use_authors_template(template: Optional[AuthorsTemplate]) -> None:
    """Make `template` the one prompt kind `authors` renders with in this process (None forgets it)."""
    if template is not None and not isinstance(template, AuthorsTemplate):
        raise ConfigError(f"use_authors_template needs an AuthorsTemplate, got {type(template).__name__}")
    _CURRENT["template"] = template


def current_authors_template() -> AuthorsTemplate:
    """The template in use; ConfigError says how to get one when none is."""
    template = _CURRENT["template"]
    if template is None:
        raise ConfigError(
            "prompt kind 'authors' has no template yet: it is learned at run time from the authors' released rows. "
            "In a workbook run notebook 01 learns it (judge.authors_source); in Python call "
            "rmr1lib.data.authors_template(...) or rmr1lib.authors.learn_authors_template(rows) and "
            "use_authors_template(...); on the command line pass --released FILE.jsonl")
    return template


__all__ = [
    "AUTHORS_KIND", "MISSPELT_SIDE", "CORRECT_SIDE", "SingleTurnLayout", "MultiTurnLayout", "AuthorsTemplate",
    "label_leak", "normalise_label_leak", "longest_common", "learn_authors_template", "use_authors_template",
    "current_authors_template",
]
