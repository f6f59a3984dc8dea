"""Judge prompts: the Chain-of-Rubrics (CoR) prompt and its ablations (paper section 3, Chain-of-Rubrics).

The structure follows the paper (§3; summarised in docs/paper-settings.md); the wording is our own.

Prompt kinds (always passed explicitly; the reference code guessed the prompt from the model NAME, so a local
checkpoint silently got the wrong one):
    instruct_cor     system prompt = role, categorize (<type>), Reasoning branch, Chat branch, notes, two
                     output skeletons; user message = the pair block. For Qwen2.5-Instruct based judges.
    reasoning_model  no system prompt; one user message = a one-line instruction, the pair block, and a line
                     demanding the verdict tag. For DeepSeek-R1-distilled judges (they think in <think>).
    plain_judge      ablation "no rubrics": compare and give the answer tag; no categorization, no rubric.
    rubrics_only     ablation "rubrics without query categorization": the Chat branch applied to every input.
    authors          the authors' own wording and delimiters, learned at run time from their released rows
                     (rmr1lib.authors); never stored in this repository. Their released checkpoints and data use
                     it, so a run that starts from them uses it throughout.

The pair block comes in two layouts. Single turn (both conversations are exactly [user, assistant] with the
same user text): a client-question header and the question, then a delimited block per response. Multi-turn:
one delimited block per chatbot holding its whole conversation with the client, one "User: ..." /
"Chatbot A: ..." / "System: ..." line per turn.

Command line (prints the chat messages as JSON):

    python -m rmr1lib.prompts render --prompt-kind KIND [--released FILE.jsonl] --question Q \
        --response-a A --response-b B

For `authors`, --released is a JSON Lines file in the released sets' schema (`context_messages`, `winner`) to
learn the template from; without it the released RL set is loaded through `datasets` (rmr1lib.data), which
needs the hub.

Pure core: standard library only (the command line's hub path imports rmr1lib.data inside `main`).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .errors import ConfigError, DataError

#: The prompts written in this repository (their wording is ours).
PROMPT_KINDS = ("instruct_cor", "reasoning_model", "plain_judge", "rubrics_only")
#: The authors' prompt, learned at run time from their released rows (rmr1lib.authors).
AUTHORS_KIND = "authors"
ALL_PROMPT_KINDS = PROMPT_KINDS + (AUTHORS_KIND,)
ROLES = ("system", "user", "assistant")
#: Where the preferred response of a pair is shown: seeded random per pair, or alternating A/B by position.
PLACEMENTS = ("random", "alternate")
VERDICT_TAGS = ("<answer>[[A]]</answer>", "<answer>[[B]]</answer>")

Message = dict[str, str]
Conversation = Sequence[Message]

# ----------------------------------------------------------------------------------------------------------
# Pair block layout (single turn and multi-turn). Delimiters are ours.
# ----------------------------------------------------------------------------------------------------------
QUESTION_HEADER = "== Client question =="
_RESPONSE_BEGIN = "== Chatbot {side}: response begins =="
_RESPONSE_END = "== Chatbot {side}: response ends =="
_CONVERSATION_BEGIN = "== Conversation between the client and Chatbot {side}: begins =="
_CONVERSATION_END = "== Conversation between the client and Chatbot {side}: ends =="
_SPEAKER = {"system": "System", "user": "User", "assistant": "Chatbot {side}"}

# ----------------------------------------------------------------------------------------------------------
# System prompt parts (our wording; structure from the paper).
# ----------------------------------------------------------------------------------------------------------
_ROLE = (
    "You are an impartial judge. A client asked a question, and two chatbots, Chatbot A and Chatbot B, each "
    "replied. Decide which of the two replies serves the client better. Work through the steps below and "
    "write your output in the tagged format shown at the end."
)

_CATEGORIZE = (
    "Step 1. Decide what kind of task this is and state it first.\n"
    "- Write <type>Reasoning</type> when a good reply depends on getting something right by reasoning: "
    "mathematics, programming, specialist domain knowledge, inference over several steps, or logic.\n"
    "- Write <type>Chat</type> for everything else: open-ended conversation, factual small talk, rewriting text "
    "in another style, questions that touch on safety, and general help that needs no deep reasoning."
)

_EVIDENCE = (
    "Back each point with evidence: copy the exact words you rely on into <quote_A>...</quote_A> or "
    "<quote_B>...</quote_B>, and describe a passage in your own words inside <summary_A>...</summary_A> or "
    "<summary_B>...</summary_B>."
)

_REASONING_BRANCH = (
    "Step 2, when the type is Reasoning.\n"
    "a. Solve the problem yourself before weighing the replies, and put your own final answer inside "
    "<solution>...</solution>.\n"
    "b. Check each reply against your solution: is it correct, is it complete, and does its reasoning hold up?\n"
    "c. Write this evaluation inside <eval>...</eval>. " + _EVIDENCE + "\n"
    "d. Finish with your verdict: <answer>[[A]]</answer> when Chatbot A is better, <answer>[[B]]</answer> when "
    "Chatbot B is better."
)


def _rubric_steps(heading: str, evidence_note: str) -> str:
    """The rubric procedure (Chat branch), shared by instruct_cor and rubrics_only."""
    return (
        f"{heading}\n"
        "a. Write criteria that fit this particular question as a numbered list inside <rubric>...</rubric>.\n"
        "b. Give every criterion a weight: a percentage in parentheses at the end of its line, for example "
        "\"1. The facts stated are accurate (40%)\". The weights add up to 100%.\n"
        "c. Still inside the rubric, add <justify>...</justify> saying why these criteria and these weights "
        "suit the question.\n"
        "d. Compare the two replies criterion by criterion.\n"
        f"e. Write this comparison inside <eval>...</eval>. {evidence_note}\n"
        "f. Finish with your verdict in the same form: <answer>[[A]]</answer> or <answer>[[B]]</answer>."
    )


_CHAT_BRANCH = _rubric_steps(
    "Step 2, when the type is Chat.",
    "Use <quote_A>, <summary_A>, <quote_B> and <summary_B> for evidence, as in the Reasoning case.",
)

_NOTES = (
    "Keep in mind:\n"
    "- Judge only the content of the replies. Which reply comes first, how long each one is, and what the "
    "chatbots are called must not sway you.\n"
    "- Follow the output format exactly, tags included, and write exactly one answer tag, at the very end.\n"
    "- There are no ties: choose A or B."
)

_EVAL_SKELETON = (
    "<eval>\n"
    "your comparison, citing <quote_A>...</quote_A>, <summary_A>...</summary_A>, <quote_B>...</quote_B> "
    "and <summary_B>...</summary_B>\n"
    "</eval>\n"
    "<answer>[[A]]</answer> or <answer>[[B]]</answer> (write only one of the two)"
)

_RUBRIC_SKELETON = (
    "<rubric>\n"
    "1. first criterion (40%)\n"
    "2. second criterion (35%)\n"
    "3. third criterion (25%)\n"
    "<justify>why these criteria and weights suit this question</justify>\n"
    "</rubric>\n"
)

_SKELETONS = (
    "Output format when the type is Reasoning:\n"
    "<type>Reasoning</type>\n"
    "<solution>your own solution and its final answer</solution>\n"
    + _EVAL_SKELETON + "\n\n"
    "Output format when the type is Chat:\n"
    "<type>Chat</type>\n"
    + _RUBRIC_SKELETON + _EVAL_SKELETON
)

# Ablation "no rubrics": a plain judge.
_PLAIN_TASK = (
    "Read the client's question and both replies, think about which one serves the client better, and give "
    "your verdict. No rubric and no task category are needed."
)
_PLAIN_SKELETON = (
    "Output format: any brief comparison you want to write, then, as the very last thing, exactly one verdict "
    "tag: <answer>[[A]]</answer> when Chatbot A is better, or <answer>[[B]]</answer> when Chatbot B is better."
)

# Ablation "rubrics without query categorization": the Chat branch for every input.
_RUBRICS_ONLY_STEPS = _rubric_steps(
    "Steps.",
    "Back each point with evidence in <quote_A>...</quote_A>, <summary_A>...</summary_A>, "
    "<quote_B>...</quote_B> and <summary_B>...</summary_B>.",
)
_RUBRICS_ONLY_SKELETON = "Output format:\n" + _RUBRIC_SKELETON + _EVAL_SKELETON

# Reasoning models: no system prompt; these wrap the pair block in the single user message.
_RM_INSTRUCTION = (
    "Act as an impartial judge: decide which chatbot's reply below serves the client better, judging content "
    "only (not order, length or names)."
)
_RM_VERDICT_REQUEST = (
    "Reason it through, then end with your final verdict written exactly as <answer>[[A]]</answer> or "
    "<answer>[[B]]</answer>."
)

_PARTS: dict[str, tuple[tuple[str, str], ...]] = {
    "instruct_cor": (
        ("role", _ROLE), ("categorize", _CATEGORIZE), ("reasoning_branch", _REASONING_BRANCH),
        ("chat_branch", _CHAT_BRANCH), ("notes", _NOTES), ("skeletons", _SKELETONS),
    ),
    "plain_judge": (("role", _ROLE), ("task", _PLAIN_TASK), ("notes", _NOTES), ("skeletons", _PLAIN_SKELETON)),
    "rubrics_only": (
        ("role", _ROLE), ("chat_branch", _RUBRICS_ONLY_STEPS), ("notes", _NOTES),
        ("skeletons", _RUBRICS_ONLY_SKELETON),
    ),
    "reasoning_model": (("instruction", _RM_INSTRUCTION), ("verdict_request", _RM_VERDICT_REQUEST)),
}
PART_SEPARATOR = "\n\n"


#: The tags of the judge's output format (the Chain-of-Rubrics skeletons and the reasoning model's think block).
OUTPUT_TAGS = (
    "<type>Reasoning</type>", "<type>Chat</type>", "<solution>", "</solution>", "<rubric>", "</rubric>",
    "<justify>", "</justify>", "<eval>", "</eval>", "<quote_A>", "</quote_A>", "<summary_A>", "</summary_A>",
    "<quote_B>", "</quote_B>", "<summary_B>", "</summary_B>", "<think>", "</think>",
) + VERDICT_TAGS


def fixed_texts() -> list[str]:
    """Every string the judge's prompts and outputs repeat verbatim: prompt parts, pair-block delimiters and
    output tags, longest first. A tokenizer built for this workbook can give each one a single token."""
    texts = {text for parts in _PARTS.values() for _, text in parts}
    for side in "AB":
        begin, end = _RESPONSE_BEGIN.format(side=side), _RESPONSE_END.format(side=side)
        conv_begin, conv_end = _CONVERSATION_BEGIN.format(side=side), _CONVERSATION_END.format(side=side)
        texts |= {begin, end, conv_begin, conv_end}
        # the delimiters together with the line breaks around them (render_pair's layout): a reply's first word
        # then follows its "begins" token directly, and its last word is tokenized as it is when quoted
        texts |= {f"\n\n{begin}\n", f"\n{end}", f"{conv_begin}\n", f"\n{conv_end}"}
        texts |= {f"\n\n{speaker.format(side=side)}: " for speaker in _SPEAKER.values()}
    texts |= {QUESTION_HEADER, f"{QUESTION_HEADER}\n", *OUTPUT_TAGS}
    return sorted(texts, key=lambda t: (-len(t), t))


def check_prompt_kind(kind: Any) -> str:
    """Return `kind` if it is one of ALL_PROMPT_KINDS, else raise ConfigError listing them."""
    if not isinstance(kind, str) or kind not in ALL_PROMPT_KINDS:
        raise ConfigError(
            f"unknown prompt kind {kind!r}; choose one of {', '.join(ALL_PROMPT_KINDS)} "
            "(the prompt is always chosen explicitly, never guessed from a model name)"
        )
    return kind


def describe_prompt_parts(kind: str) -> dict[str, str]:
    """The named parts of a prompt kind, in order (system prompt parts; for reasoning_model the user-message frame)."""
    if check_prompt_kind(kind) == AUTHORS_KIND:
        raise ConfigError("prompt kind 'authors' has no parts written here: it is learned at run time from the "
                          "released rows (rmr1lib.authors); render it with build_messages or the command line")
    return dict(_PARTS[kind])


def system_prompt(kind: str) -> str | None:
    """The system prompt of `kind` (the join of its parts), or None for reasoning_model (authors: as learned)."""
    if check_prompt_kind(kind) == "reasoning_model":
        return None
    if kind == AUTHORS_KIND:
        from .authors import current_authors_template

        return current_authors_template().system
    return PART_SEPARATOR.join(describe_prompt_parts(kind).values())


def output_format(kind: str) -> str:
    """The built-in kind whose output format `kind` asks for (authors: instruct_cor or reasoning_model, as learned)."""
    if check_prompt_kind(kind) == AUTHORS_KIND:
        from .authors import current_authors_template

        return current_authors_template().output_format
    return kind


# ----------------------------------------------------------------------------------------------------------
# Validation and the pair block
# ----------------------------------------------------------------------------------------------------------
def validate_conversation(conversation: Any, name: str = "conversation") -> list[Message]:
    """Check one conversation (roles, str contents, ends with an assistant turn); DataError names the index."""
    if isinstance(conversation, (str, bytes, dict)) or not isinstance(conversation, Sequence):
        raise DataError(f"{name} must be a list of {{'role', 'content'}} messages, got {type(conversation).__name__}")
    if len(conversation) == 0:
        raise DataError(f"{name} is empty; it needs at least a user turn and an assistant turn")
    for i, message in enumerate(conversation):
        if not isinstance(message, dict):
            raise DataError(f"{name}[{i}] must be a dict with 'role' and 'content', got {type(message).__name__}")
        role = message.get("role")
        if role not in ROLES:
            raise DataError(f"{name}[{i}] has role {role!r}; allowed roles are {', '.join(ROLES)}")
        content = message.get("content")
        if not isinstance(content, str):
            raise DataError(f"{name}[{i}] ({role}) has content of type {type(content).__name__}; expected str")
    if conversation[-1]["role"] != "assistant":
        raise DataError(
            f"{name} must end with an assistant turn (the response being judged); "
            f"{name}[{len(conversation) - 1}] has role {conversation[-1]['role']!r}"
        )
    if not any(m["role"] == "user" for m in conversation):
        raise DataError(f"{name} has no user turn: there is no client question to judge against")
    return list(conversation)


def validate_pair(conversation_a: Any, conversation_b: Any) -> None:
    """Check both conversations and that they share the client's turns (same roles, same non-assistant text)."""
    a = validate_conversation(conversation_a, "conversation_a")
    b = validate_conversation(conversation_b, "conversation_b")
    for i in range(max(len(a), len(b))):
        if i >= len(a) or i >= len(b):
            raise DataError(
                f"conversation_a has {len(a)} messages but conversation_b has {len(b)}; message {i} exists in "
                "only one of them (a pair must share the client's turns)"
            )
        if a[i]["role"] != b[i]["role"]:
            raise DataError(
                f"message {i} has role {a[i]['role']!r} in conversation_a but {b[i]['role']!r} in "
                "conversation_b (a pair must share the client's turns)"
            )
        if a[i]["role"] != "assistant" and a[i]["content"] != b[i]["content"]:
            raise DataError(
                f"message {i} ({a[i]['role']}) differs between conversation_a and conversation_b "
                "(the client's turns must be the same in both)"
            )


def is_single_turn(conversation_a: Any, conversation_b: Any) -> bool:
    """True when both conversations are exactly [user, assistant] with the same user text."""
    try:
        return all(
            isinstance(c, Sequence) and len(c) == 2 and isinstance(c[0], dict) and isinstance(c[1], dict)
            and c[0].get("role") == "user" and c[1].get("role") == "assistant"
            for c in (conversation_a, conversation_b)
        ) and conversation_a[0].get("content") == conversation_b[0].get("content")
    except (TypeError, KeyError, IndexError):
        return False


def _conversation_block(conversation: Conversation, side: str) -> str:
    """One chatbot's whole conversation with the client, one speaker-prefixed entry per turn."""
    turns = [f"{_SPEAKER[m['role']].format(side=side)}: {m['content']}" for m in conversation]
    return "\n".join(
        [_CONVERSATION_BEGIN.format(side=side), "\n\n".join(turns), _CONVERSATION_END.format(side=side)]
    )


def render_pair(conversation_a: Any, conversation_b: Any) -> str:
    """The pair block of the user message: single-turn layout when is_single_turn, else multi-turn."""
    validate_pair(conversation_a, conversation_b)
    if is_single_turn(conversation_a, conversation_b):
        blocks = [f"{QUESTION_HEADER}\n{conversation_a[0]['content']}"]
        for side, conv in (("A", conversation_a), ("B", conversation_b)):
            blocks.append(
                f"{_RESPONSE_BEGIN.format(side=side)}\n{conv[1]['content']}\n{_RESPONSE_END.format(side=side)}"
            )
        return "\n\n".join(blocks)
    return "\n\n".join([_conversation_block(conversation_a, "A"), _conversation_block(conversation_b, "B")])


def build_messages(kind: str, conversation_a: Any, conversation_b: Any, template: Any = None) -> list[Message]:
    """The judge's chat messages for a pair: [system, user] for instruct kinds, [user] for reasoning_model.

    Kind `authors` renders with `template` (an rmr1lib.authors.AuthorsTemplate) or, by default, the template in
    use in this process (`rmr1lib.authors.use_authors_template`).
    """
    check_prompt_kind(kind)
    if kind == AUTHORS_KIND:
        from .authors import current_authors_template

        validate_pair(conversation_a, conversation_b)
        return (template or current_authors_template()).messages(conversation_a, conversation_b)
    pair = render_pair(conversation_a, conversation_b)
    if kind == "reasoning_model":
        user = PART_SEPARATOR.join([_RM_INSTRUCTION, pair, _RM_VERDICT_REQUEST])
        return [{"role": "user", "content": user}]
    return [{"role": "system", "content": system_prompt(kind)}, {"role": "user", "content": pair}]


def build_messages_for_question(kind: str, question: str, response_a: str, response_b: str,
                                template: Any = None) -> list[Message]:
    """The judge's chat messages for one question and two single-turn responses."""
    check_prompt_kind(kind)
    for name, value in (("question", question), ("response_a", response_a), ("response_b", response_b)):
        if not isinstance(value, str):
            raise DataError(f"{name} must be a str, got {type(value).__name__}")
    conversation_a = [{"role": "user", "content": question}, {"role": "assistant", "content": response_a}]
    conversation_b = [{"role": "user", "content": question}, {"role": "assistant", "content": response_b}]
    return build_messages(kind, conversation_a, conversation_b, template)


# ----------------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------------
def _cli_authors_template(released: Optional[str], released_set: str, seed: int) -> Any:
    """The authors' template from a local JSON Lines file, or from the released set on the hub."""
    from .authors import learn_authors_template
    from .files import read_jsonl

    if released:
        return learn_authors_template(read_jsonl(released), source=released, seed=seed)
    from .data import authors_template_from_hub  # pipeline module: loads the released set through datasets

    return authors_template_from_hub(released_set, seed=seed)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m rmr1lib.prompts render ...`: print a kind's chat messages as JSON; exit 2 on bad input."""
    import argparse
    import json
    import sys

    from .errors import RmR1Error

    parser = argparse.ArgumentParser(prog="python -m rmr1lib.prompts", description="Inspect the judge prompts.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    render = commands.add_parser("render", help="print the chat messages of a prompt kind as JSON")
    render.add_argument("--prompt-kind", required=True, choices=ALL_PROMPT_KINDS)
    render.add_argument("--released", metavar="FILE.jsonl",
                        help="authors: released rows (context_messages, winner) to learn the template from")
    render.add_argument("--released-set", default="after_distill_rlvr",
                        choices=("after_distill_rlvr", "reasoning_rlvr", "distill_sft"),
                        help="authors without --released: the released set to load from the hub")
    render.add_argument("--seed", type=int, default=0, help="authors: seed of the rows sampled for learning")
    render.add_argument("--question", required=True)
    render.add_argument("--response-a", required=True)
    render.add_argument("--response-b", required=True)
    args = parser.parse_args(argv)
    try:
        template = None
        if args.prompt_kind == AUTHORS_KIND:
            template = _cli_authors_template(args.released, args.released_set, args.seed)
        elif args.released:
            raise ConfigError("--released is only used by --prompt-kind authors")
        messages = build_messages_for_question(args.prompt_kind, args.question, args.response_a, args.response_b,
                                               template)
    except (RmR1Error, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(messages, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
