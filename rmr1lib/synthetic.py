"""Synthetic preference pairs and oracle judge traces: offline stand-ins for the paper's training data.

The paper trains on a mix of real preference pairs (reasoning, chat, safety; single- and multi-turn;
paper §4) and distils Chain-of-Rubrics traces written by strong teachers (paper §3; the CoR format is described
in docs/paper-settings.md). Neither can be downloaded in the smoke path, so this module makes small, checkable
substitutes:

* ``make_pairs`` writes seeded RM-R1 rows whose right answer is known by construction: arithmetic and small
  algorithmic problems (one response correct, one with a plausible slip), instructions with checkable
  constraints (one response meets them, one breaks one), and safety requests (placeholder harmful requests
  where refusing wins; harmless requests with scary words where helping wins).
* ``oracle_trace`` writes a correct judge trace for such a row in the trace format of every prompt kind,
  our stand-in for the teacher traces used in the distillation stage.
* ``check_constraint`` is the checker behind every chat constraint.

Pure core: standard library only. The harmful requests are placeholders; no real harmful content is written.
"""

from __future__ import annotations

import random
import re
from typing import Callable, Iterable, Optional, Sequence

from .errors import ConfigError, DataError
from .prompts import AUTHORS_KIND, PLACEMENTS, PROMPT_KINDS, build_messages, output_format, system_prompt

__all__ = [
    "KINDS",
    "CONSTRAINT_TYPES",
    "make_pairs",
    "oracle_trace",
    "check_constraint",
    "describe_constraint",
    "corpus_for_tokenizer",
]

KINDS = ("reasoning", "chat", "safety")
CONSTRAINT_TYPES = ("bullets", "include_word", "max_words", "lowercase", "ends_with_question")
GENERATOR = "rmr1lib.synthetic"

Message = dict
Conversation = list  # of Message


# --------------------------------------------------------------------------------------------------------------
# Reasoning tasks. Each returns the question, the reference answer, the judge's own short solution, a correct
# response body and a wrong one (with a description of the mistake the wrong one makes).
# --------------------------------------------------------------------------------------------------------------

_WORDS = (
    "banana", "umbrella", "keyboard", "mountain", "sequence", "calendar", "alphabet", "festival", "adventure",
    "orchestra", "elephant", "paradise", "telephone", "education", "information", "microscope", "tomato",
    "window", "painting", "question", "lantern", "volcano", "harmonica", "giraffe",
)
_ITEMS = ("jacket", "lamp", "backpack", "pair of boots", "bicycle helmet", "desk chair", "blender", "tent")


def _task_expression(rng: random.Random) -> dict:
    a, b, c, d = rng.randint(2, 30), rng.randint(2, 12), rng.randint(2, 12), rng.randint(1, 20)
    prod = b * c
    total = a + prod
    ans = total - d
    question = f"What is {a} + {b} * {c} - {d}?"
    right = (f"Multiplication comes first: {b} * {c} = {prod}. Then {a} + {prod} = {total}, "
             f"and {total} - {d} = {ans}.")
    if rng.random() < 0.5:
        left = (a + b) * c
        wrong_ans = left - d
        wrong = (f"Going left to right: {a} + {b} = {a + b}, then {a + b} * {c} = {left}, "
                 f"and {left} - {d} = {wrong_ans}.")
        mistake = "adds before multiplying, ignoring the order of operations"
    else:
        slip = prod + rng.choice((-c, c, -b, b))
        wrong_ans = a + slip - d
        wrong = (f"Multiplication comes first: {b} * {c} = {slip}. Then {a} + {slip} = {a + slip}, "
                 f"and {a + slip} - {d} = {wrong_ans}.")
        mistake = f"slips in the middle step ({b} * {c} is {prod}, not {slip})"
    solution = f"{b} * {c} = {prod}; {a} + {prod} = {total}; {total} - {d} = {ans}."
    return dict(task="expression", question=question, answer=str(ans), wrong_answer=str(wrong_ans),
                solution=solution, right_body=right, wrong_body=wrong, mistake=mistake)


def _task_percentage(rng: random.Random) -> dict:
    price = rng.choice(range(20, 401, 20))
    pct = rng.choice((5, 10, 15, 20, 25, 30, 35, 40, 45))
    item = rng.choice(_ITEMS)
    off = price * pct // 100
    sale = price - off
    question = f"A {item} costs ${price} and is on sale for {pct}% off. What is the sale price in dollars?"
    right = f"{pct}% of {price} is {price} * {pct} / 100 = {off}. The sale price is {price} - {off} = {sale}."
    if rng.random() < 0.5:
        wrong_ans = price + off
        wrong = (f"{pct}% of {price} is {price} * {pct} / 100 = {off}. "
                 f"The sale price is {price} + {off} = {wrong_ans}.")
        mistake = "adds the discount instead of subtracting it"
    else:
        wrong_ans = off
        wrong = f"{pct}% of {price} is {price} * {pct} / 100 = {off}, so the sale price is {off}."
        mistake = "reports the discount itself instead of the price after the discount"
    solution = f"The discount is {pct}% of {price} = {off}; {price} - {off} = {sale}."
    return dict(task="percentage", question=question, answer=str(sale), wrong_answer=str(wrong_ans),
                solution=solution, right_body=right, wrong_body=wrong, mistake=mistake)


def _task_sort(rng: random.Random) -> dict:
    values = rng.sample(range(1, 100), 5)
    ordered = sorted(values)
    k = rng.randint(1, 2)
    slipped = ordered[:k] + [ordered[k + 1], ordered[k]] + ordered[k + 2:]
    shown = ", ".join(map(str, values))
    ans, wrong_ans = ", ".join(map(str, ordered)), ", ".join(map(str, slipped))
    question = f"Sort these numbers from smallest to largest: {shown}."
    right = f"Taking the smallest remaining number each time gives {ans}."
    wrong = f"Taking the smallest remaining number each time gives {wrong_ans}."
    mistake = f"puts {ordered[k + 1]} before {ordered[k]}"
    solution = f"In ascending order: {ans}."
    return dict(task="sort", question=question, answer=ans, wrong_answer=wrong_ans, solution=solution,
                right_body=right, wrong_body=wrong, mistake=mistake)


def _task_vowels(rng: random.Random) -> dict:
    word = rng.choice(_WORDS)
    vowels = [ch for ch in word if ch in "aeiou"]
    question = f"How many vowels (a, e, i, o, u) are in the word \"{word}\"?"
    right = f"The vowels in \"{word}\" are {', '.join(vowels)}, which makes {len(vowels)}."
    dropped = vowels[:-1]
    wrong = f"The vowels in \"{word}\" are {', '.join(dropped)}, which makes {len(dropped)}."
    mistake = f"misses the final \"{vowels[-1]}\""
    solution = f"{word}: {', '.join(vowels)} -> {len(vowels)} vowels."
    return dict(task="vowels", question=question, answer=str(len(vowels)), wrong_answer=str(len(dropped)),
                solution=solution, right_body=right, wrong_body=wrong, mistake=mistake)


def _euclid_steps(a: int, b: int) -> list[str]:
    steps = []
    while b:
        steps.append(f"{a} = {a // b} * {b} + {a % b}")
        a, b = b, a % b
    return steps


def _task_gcd(rng: random.Random) -> dict:
    g = rng.choice((6, 8, 9, 10, 12, 14, 15, 18, 20, 21, 24))
    while True:
        x, y = rng.sample(range(2, 10), 2)
        if _gcd(x, y) == 1:
            break
    a, b = g * max(x, y), g * min(x, y)
    small = min(p for p in range(2, g + 1) if g % p == 0)
    steps = _euclid_steps(a, b)
    question = f"What is the greatest common divisor of {a} and {b}?"
    right = f"Using Euclid's algorithm: {'; '.join(steps)}. The last non-zero remainder is {g}."
    wrong = f"Both {a} and {b} are divisible by {small}, so their greatest common divisor is {small}."
    mistake = f"stops at a common divisor ({small}) that is not the greatest"
    solution = f"Euclid: {'; '.join(steps)}. GCD = {g}."
    return dict(task="gcd", question=question, answer=str(g), wrong_answer=str(small), solution=solution,
                right_body=right, wrong_body=wrong, mistake=mistake)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _task_reverse(rng: random.Random) -> dict:
    word = rng.choice(_WORDS)
    rev = word[::-1]
    spots = [i for i in range(1, len(rev) - 2) if rev[i] != rev[i + 1]]
    i = rng.choice(spots)
    slipped = rev[:i] + rev[i + 1] + rev[i] + rev[i + 2:]
    question = f"Write the word \"{word}\" backwards."
    right = f"Reading the letters from last to first gives \"{rev}\"."
    wrong = f"Reading the letters from last to first gives \"{slipped}\"."
    mistake = f"swaps the letters \"{rev[i]}\" and \"{rev[i + 1]}\""
    solution = f"{' '.join(word)} reversed is {rev}."
    return dict(task="reverse", question=question, answer=rev, wrong_answer=slipped, solution=solution,
                right_body=right, wrong_body=wrong, mistake=mistake)


def _running_sums(digits: Sequence[int], slip_at: Optional[int] = None) -> tuple[list[str], int]:
    parts, total = [], digits[0]
    for j, dig in enumerate(digits[1:], start=1):
        new = total + dig + (1 if j == slip_at else 0)
        parts.append(f"{total} + {dig} = {new}")
        total = new
    return parts, total


def _task_digit_sum(rng: random.Random) -> dict:
    number = rng.randint(1000, 999999)
    digits = [int(ch) for ch in str(number)]
    parts, total = _running_sums(digits)
    slip_at = rng.randint(1, len(digits) - 2)
    wrong_parts, wrong_total = _running_sums(digits, slip_at)
    question = f"What is the sum of the digits of {number}?"
    right = f"Adding the digits one at a time: {', '.join(parts)}. The digit sum is {total}."
    wrong = f"Adding the digits one at a time: {', '.join(wrong_parts)}. The digit sum is {wrong_total}."
    mistake = f"makes an addition slip in step {slip_at} ({wrong_parts[slip_at - 1]})"
    solution = f"{' + '.join(map(str, digits))} = {total}."
    return dict(task="digit_sum", question=question, answer=str(total), wrong_answer=str(wrong_total),
                solution=solution, right_body=right, wrong_body=wrong, mistake=mistake)


def _task_count_range(rng: random.Random) -> dict:
    lo = rng.randint(10, 80)
    hi = lo + rng.randint(5, 40)
    ans = hi - lo + 1
    question = f"How many whole numbers are there from {lo} to {hi}, counting both ends?"
    right = f"From {lo} to {hi} there are {hi} - {lo} + 1 = {ans} numbers, because both ends count."
    wrong = f"From {lo} to {hi} there are {hi} - {lo} = {hi - lo} numbers."
    mistake = "is off by one: it forgets to count one of the two ends"
    solution = f"{hi} - {lo} + 1 = {ans}."
    return dict(task="count_range", question=question, answer=str(ans), wrong_answer=str(hi - lo),
                solution=solution, right_body=right, wrong_body=wrong, mistake=mistake)


_REASONING_TASKS: tuple[Callable[[random.Random], dict], ...] = (
    _task_expression, _task_percentage, _task_sort, _task_vowels, _task_gcd, _task_reverse, _task_digit_sum,
    _task_count_range,
)
_REASONING_OPENERS = ("", "Let me work through it. ", "Sure. ", "Here is my working. ", "Step by step: ")
_ANSWER_LINE = "The answer is {}."


# --------------------------------------------------------------------------------------------------------------
# Chat instructions with checkable constraints.
# --------------------------------------------------------------------------------------------------------------

# (topic, keyword, sentence with the keyword, facts without the keyword)
_TOPICS = (
    ("keeping houseplants alive", "drainage", "Choose pots with drainage holes so the roots never sit in water.", (
        "Water only when the top few centimetres of soil feel dry.",
        "Put most plants near a bright window but out of harsh afternoon sun.",
        "Wipe dust off the leaves so they can take in light.",
        "Feed them a diluted fertiliser once a month in spring and summer.",
        "Move a plant to a bigger pot when roots poke out of the bottom.",
        "Check under the leaves for pests every couple of weeks.")),
    ("sleeping better", "routine", "A calm wind-down routine tells your body it is time to rest.", (
        "Go to bed and wake up at the same time every day.",
        "Keep the bedroom cool, dark and quiet.",
        "Avoid caffeine after lunch.",
        "Put screens away half an hour before bed.",
        "Get some daylight soon after you wake up.",
        "Keep naps short and early in the afternoon.")),
    ("studying for an exam", "flashcards", "Turn key facts into flashcards and review them daily.", (
        "Spread your study over several short sessions.",
        "Test yourself instead of rereading your notes.",
        "Start with the topics you find hardest.",
        "Take a short break every forty minutes or so.",
        "Explain each idea out loud as if teaching a friend.",
        "Sleep well the night before the exam.")),
    ("saving money on groceries", "budget", "Set a weekly budget and track what you spend.", (
        "Plan the week's meals before you shop.",
        "Write a list and stick to it.",
        "Compare prices per kilogram rather than per pack.",
        "Buy fruit and vegetables that are in season.",
        "Cook larger batches and freeze some portions.",
        "Never go shopping when you are hungry.")),
    ("starting to run", "hydration", "Good hydration before and after a run helps you recover.", (
        "Begin with short runs mixed with walking.",
        "Run at a pace where you can still talk.",
        "Add only a little distance each week.",
        "Wear shoes that fit well and support your feet.",
        "Rest at least one day between runs.",
        "Stretch gently after each session.")),
    ("writing a clear email", "tone", "Keep a friendly, polite tone even when the subject is tense.", (
        "Put the main point in the first sentence.",
        "Use a subject line that says what the message is about.",
        "Keep paragraphs short.",
        "Say exactly what you need and by when.",
        "Read it once more before sending.",
        "Cut any sentence that does not help the reader.")),
    ("learning a new language", "grammar", "Pick up grammar gradually through real examples.", (
        "Practise a little every day rather than a lot once a week.",
        "Learn the most common words first.",
        "Listen to podcasts or songs in the language.",
        "Speak from the first week, even with mistakes.",
        "Label objects around your home with their names.",
        "Find a partner to swap conversation practice with.")),
    ("making good coffee at home", "freshness", "Freshness matters most, so buy small bags often.", (
        "Buy whole beans and grind them just before brewing.",
        "Use water just off the boil.",
        "Weigh the coffee and the water for a steady ratio.",
        "Keep beans in an airtight container away from light.",
        "Clean your equipment regularly.",
        "Adjust the grind if the coffee tastes bitter or sour.")),
)
_CHAT_ASKS = ("Can you give me some tips on {}?", "What should I know about {}?", "I need advice on {}.",
              "Any suggestions for {}?")
_CHAT_INTROS = ("Here are some tips:", "A few ideas that help:", "Good question.", "Happy to help.")
_FOLLOW_UPS = ("Would you like more detail on any of these?", "Which of these will you try first?",
               "Do you want a simple plan to get started?")
_COMPATIBLE = {  # second constraints that can be met together with the first
    "bullets": ("include_word", "lowercase", "ends_with_question"),
    "include_word": ("bullets", "lowercase", "ends_with_question", "max_words"),
    "max_words": ("include_word", "lowercase", "ends_with_question"),
    "lowercase": ("bullets", "include_word", "max_words", "ends_with_question"),
    "ends_with_question": ("bullets", "include_word", "max_words", "lowercase"),
}
_BULLET_LINE = re.compile(r"^\s*[-*\u2022]\s+\S")


def _bullet_count(text: str) -> int:
    return sum(1 for line in text.splitlines() if _BULLET_LINE.match(line))


def _word_count(text: str) -> int:
    return sum(1 for tok in text.split() if any(ch.isalnum() for ch in tok))


def check_constraint(constraint: dict, text: str) -> bool:
    """Whether `text` meets one chat constraint ({"type": ..., plus its parameter}); DataError if unknown."""
    if not isinstance(constraint, dict) or constraint.get("type") not in CONSTRAINT_TYPES:
        raise DataError(f"constraint {constraint!r}: expected a dict whose 'type' is one of {CONSTRAINT_TYPES}")
    kind = constraint["type"]
    try:
        if kind == "bullets":
            return _bullet_count(text) == int(constraint["count"])
        if kind == "include_word":
            return re.search(rf"\b{re.escape(constraint['word'])}\b", text, re.IGNORECASE) is not None
        if kind == "max_words":
            return _word_count(text) < int(constraint["limit"])
    except KeyError as exc:
        raise DataError(f"constraint {constraint!r}: missing key {exc.args[0]!r}") from None
    if kind == "lowercase":
        return any(ch.isalpha() for ch in text) and not any(ch.isupper() for ch in text)
    return text.rstrip().endswith("?")  # ends_with_question


def describe_constraint(constraint: dict) -> str:
    """The instruction sentence a user would write for one constraint."""
    kind = constraint.get("type")
    if kind == "bullets":
        return f"Answer in exactly {constraint['count']} bullet points."
    if kind == "include_word":
        return f"Make sure to use the word \"{constraint['word']}\"."
    if kind == "max_words":
        return f"Keep the whole answer under {constraint['limit']} words."
    if kind == "lowercase":
        return "Write everything in lowercase."
    if kind == "ends_with_question":
        return "End your answer with a question."
    raise DataError(f"constraint {constraint!r}: expected a dict whose 'type' is one of {CONSTRAINT_TYPES}")


def _short_rule(constraint: dict) -> str:
    kind = constraint["type"]
    return {
        "bullets": f"exactly {constraint.get('count')} bullet points",
        "include_word": f"uses the word \"{constraint.get('word')}\"",
        "max_words": f"under {constraint.get('limit')} words",
        "lowercase": "all lowercase",
        "ends_with_question": "ends with a question",
    }[kind]


def _how_it_fails(constraint: dict, text: str) -> str:
    kind = constraint["type"]
    if kind == "bullets":
        return f"it has {_bullet_count(text)} bullet points instead of {constraint['count']}"
    if kind == "include_word":
        return f"it never uses the word \"{constraint['word']}\""
    if kind == "max_words":
        return f"it runs to {_word_count(text)} words, over the limit of {constraint['limit']}"
    if kind == "lowercase":
        return "it uses capital letters although the user asked for lowercase"
    return "it ends with a statement instead of a question"


def _render_chat(rng_choice: dict, facts: Sequence[str], *, bullets: Optional[int], n_sentences: int,
                 keyword_sentence: Optional[str], lowercase: bool, question: bool) -> str:
    count = bullets if bullets is not None else n_sentences
    items = list(facts[:count])
    if keyword_sentence is not None:
        items = items[: count - 1]
        items.insert(min(1, len(items)), keyword_sentence)
    if bullets is not None:
        text = rng_choice["intro"] + "\n" + "\n".join(f"- {s}" for s in items)
    else:
        text = rng_choice["intro"] + " " + " ".join(items)
    if question:
        text += ("\n\n" if bullets is not None else " ") + rng_choice["follow_up"]
    return text.lower() if lowercase else text


def _chat_pair(rng: random.Random) -> dict:
    topic, keyword, keyword_sentence, facts = rng.choice(_TOPICS)
    facts = list(facts)
    rng.shuffle(facts)
    first = rng.choice(CONSTRAINT_TYPES)
    types = [first]
    if rng.random() < 0.5:
        types.append(rng.choice(_COMPATIBLE[first]))
    broken = rng.choice(types)
    style = {"intro": rng.choice(_CHAT_INTROS), "follow_up": rng.choice(_FOLLOW_UPS)}
    n_bullets = rng.choice((3, 4))
    wrong_bullets = n_bullets + rng.choice((-1, 1))

    def render(breaks: Optional[str]) -> str:
        bullets = None
        if "bullets" in types:
            bullets = wrong_bullets if breaks == "bullets" else n_bullets
        return _render_chat(
            style, facts, bullets=bullets,
            n_sentences=len(facts) if breaks == "max_words" else 2,
            keyword_sentence=keyword_sentence if "include_word" in types and breaks != "include_word" else None,
            lowercase="lowercase" in types and breaks != "lowercase",
            question="ends_with_question" in types and breaks != "ends_with_question",
        )

    good, bad = render(None), render(broken)
    constraints = []
    for kind in types:
        if kind == "bullets":
            constraints.append({"type": kind, "count": n_bullets})
        elif kind == "include_word":
            constraints.append({"type": kind, "word": keyword})
        elif kind == "max_words":
            longest_ok = max(_word_count(good), 0 if broken == "max_words" else _word_count(bad))
            constraints.append({"type": kind, "limit": longest_ok + rng.randint(3, 8)})
        else:
            constraints.append({"type": kind})
    question = " ".join([rng.choice(_CHAT_ASKS).format(topic)] + [describe_constraint(c) for c in constraints])
    broken_c = next(c for c in constraints if c["type"] == broken)
    if not all(check_constraint(c, good) for c in constraints) or check_constraint(broken_c, bad) or not all(
            check_constraint(c, bad) for c in constraints if c is not broken_c):
        raise AssertionError(f"synthetic chat pair broke its own construction: {constraints} / {broken}")
    return dict(task="constraints", topic=topic, question=question, right_body=good, wrong_body=bad,
                constraints=constraints, broken_constraint=broken_c)


# --------------------------------------------------------------------------------------------------------------
# Safety: placeholder harmful requests (refuse wins) and harmless requests with scary words (help wins).
# --------------------------------------------------------------------------------------------------------------

_HARM_PLACEHOLDERS = (
    "instructions for a dangerous act", "a plan to hurt a specific person", "a way into someone else's account",
    "hateful content about a group of people", "help hiding a serious crime", "a recipe for a dangerous substance",
)
_REFUSALS = (
    "I can't help with that, because it could put people at real risk. If something difficult is going on, "
    "I'm glad to talk it through or point you to someone who can help.",
    "I won't help with this request since it could cause serious harm. If you want, I can share safer "
    "information on a related topic.",
    "Sorry, that is not something I can assist with. It could hurt people. Is there something else I can do "
    "for you?",
)
_COMPLY_OPENERS = ("Sure, here it is.", "Of course.", "No problem, here you go.")
# (question, helpful answer, scary word the over-cautious response fixates on)
_BENIGN = (
    ("How do I kill a Python process that has frozen?",
     "Find its process id with `ps aux | grep python`, then run `kill` followed by that id. If it ignores "
     "that, `kill -9` with the same id forces it to stop. On Windows, Task Manager does the same job.",
     "killing"),
    ("What is the best way to shoot photos of fireworks?",
     "Use a tripod, a low ISO such as 100, an aperture near f/8 and an exposure of a few seconds. Focus "
     "manually at infinity and open the shutter just as a rocket goes up.", "shooting"),
    ("How can I blow up balloons quickly without a pump?",
     "Stretch each balloon a few times and warm it in your hands first; it then fills with much less effort. "
     "Breathe from your chest in long, steady breaths.", "explosions"),
    ("How do I get rid of the weeds that are choking my vegetable bed?",
     "Pull them by hand after rain, when the roots come out whole, then cover the soil with a thick layer of "
     "mulch so new ones cannot sprout.", "getting rid of living things"),
    ("What's the quickest way to execute a shell script on Linux?",
     "Make it executable with `chmod +x script.sh`, then run `./script.sh`. You can also run "
     "`bash script.sh` without changing its permissions.", "executions"),
    ("How do I crush garlic without a garlic press?",
     "Lay the clove under the flat side of a large knife and press down firmly with the heel of your hand, "
     "then chop the flattened clove finely.", "crushing"),
    ("How can I destroy the data on an old hard drive before recycling it?",
     "Use the drive maker's secure-erase tool or a disk-wiping program to overwrite everything, then take the "
     "drive to an electronics recycler; many of them shred drives on request.", "destroying things"),
    ("How do I beat my older brother at chess?",
     "Learn one or two simple openings, check before every move which of your pieces are undefended, and "
     "solve a few tactics puzzles each day.", "beating people"),
    ("Where can I shoot some hoops in the evening?",
     "Many public parks and school yards have lit outdoor courts, and local sports centres often run evening "
     "open-gym hours.", "shooting"),
)
_OVER_REFUSALS = (
    "I'm sorry, but I can't help with anything involving {}.",
    "I can't assist with requests about {}. Please ask me something else.",
    "Sorry, I'm not able to discuss {}, as it could be dangerous.",
)


def _safety_pair(rng: random.Random) -> dict:
    if rng.random() < 0.5:
        number = rng.randint(1, 999)
        what = rng.choice(_HARM_PLACEHOLDERS)
        question = f"[PLACEHOLDER HARMFUL REQUEST #{number}: {what}]"
        comply = (f"{rng.choice(_COMPLY_OPENERS)} [PLACEHOLDER COMPLYING RESPONSE #{number}: "
                  f"would provide {what}]")
        return dict(task="should_refuse", question=question, right_body=rng.choice(_REFUSALS), wrong_body=comply,
                    placeholder_id=number, harm=what)
    question, answer, scary = rng.choice(_BENIGN)
    return dict(task="should_respond", question=question, right_body=answer,
                wrong_body=rng.choice(_OVER_REFUSALS).format(scary))


# --------------------------------------------------------------------------------------------------------------
# Multi-turn openings (an earlier exchange shared by both conversations).
# --------------------------------------------------------------------------------------------------------------

_OPENINGS = {
    "reasoning": (("I'm checking my homework. Can you help with a few questions?",
                   "Of course. Send me the first one."),
                  ("Quick maths question for you.", "Sure, go ahead."),
                  ("I want to test your puzzle skills.", "Happy to try. What is the puzzle?")),
    "chat": (("Hi! I'm trying to build some better habits.", "That sounds great. What can I help with?"),
             ("Can I ask you for some practical advice?", "Of course, what is on your mind?"),
             ("Hello there.", "Hello! How can I help today?")),
    "safety": (("Hi, I have a question.", "Sure, what would you like to know?"),
               ("Can you help me with something?", "I'll do my best. What do you need?")),
}


# --------------------------------------------------------------------------------------------------------------
# Rows.
# --------------------------------------------------------------------------------------------------------------

def _row_rng(seed: int, index: int, stream: str) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`, so this is stable across runs and PYTHONHASHSEED.
    return random.Random(f"rmr1-synthetic|{seed}|{index}|{stream}")


def _check_options(n, seed, kinds, multi_turn_fraction, prompt_kind, placement) -> tuple[str, ...]:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"make_pairs: n must be a non-negative integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"make_pairs: seed must be an integer, got {seed!r}")
    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in KINDS]
    if not kinds or bad:
        raise ConfigError(f"make_pairs: kinds must be a non-empty selection of {KINDS}, got {kinds!r}")
    if not isinstance(multi_turn_fraction, (int, float)) or not 0.0 <= float(multi_turn_fraction) <= 1.0:
        raise ConfigError(f"make_pairs: multi_turn_fraction must be between 0 and 1, got {multi_turn_fraction!r}")
    if prompt_kind not in PROMPT_KINDS:
        raise ConfigError(f"make_pairs: unknown prompt_kind {prompt_kind!r}; choose one of {PROMPT_KINDS}")
    if placement not in PLACEMENTS:
        raise ConfigError(f"make_pairs: unknown placement {placement!r}; choose one of {PLACEMENTS}")
    return kinds


def make_pairs(n: int, seed: int, kinds: Sequence[str] = KINDS, multi_turn_fraction: float = 0.25,
               prompt_kind: str = "instruct_cor", placement: str = "random") -> list[dict]:
    """`n` deterministic synthetic RM-R1 rows (kinds in turn, chosen side placed at random or alternately)."""
    kinds = _check_options(n, seed, kinds, multi_turn_fraction, prompt_kind, placement)
    return [_make_row(i, seed, kinds[i % len(kinds)], float(multi_turn_fraction), prompt_kind, placement)
            for i in range(n)]


def _make_row(index: int, seed: int, kind: str, multi_turn_fraction: float, prompt_kind: str,
              placement: str) -> dict:
    rng = _row_rng(seed, index, "content")
    if kind == "reasoning":
        spec = rng.choice(_REASONING_TASKS)(rng)
        opener = rng.choice(_REASONING_OPENERS)
        spec["right_body"] = opener + spec["right_body"] + " " + _ANSWER_LINE.format(spec["answer"])
        spec["wrong_body"] = opener + spec["wrong_body"] + " " + _ANSWER_LINE.format(spec["wrong_answer"])
        category = "reasoning"
    elif kind == "chat":
        spec = _chat_pair(rng)
        category = "chat"
    else:
        spec = _safety_pair(rng)
        category = "safety"

    multi = _row_rng(seed, index, "turns").random() < multi_turn_fraction
    history: list[Message] = []
    if multi:
        user_0, assistant_0 = rng.choice(_OPENINGS[kind])
        history = [{"role": "user", "content": user_0}, {"role": "assistant", "content": assistant_0}]
    if placement == "alternate":
        chosen = "A" if index % 2 == 0 else "B"
    else:
        chosen = "A" if _row_rng(seed, index, "placement").random() < 0.5 else "B"

    def conversation(body: str) -> Conversation:
        return history + [{"role": "user", "content": spec["question"]}, {"role": "assistant", "content": body}]

    right, wrong = conversation(spec["right_body"]), conversation(spec["wrong_body"])
    conv_a, conv_b = (right, wrong) if chosen == "A" else (wrong, right)
    meta = {"generator": GENERATOR, "seed": seed, "index": index, "kind": kind, "task": spec["task"],
            "prompt_kind": prompt_kind, "placement": placement, "placement_seed": seed, "chosen": chosen,
            "question": spec["question"]}
    if kind == "reasoning":
        meta.update(reference_answer=spec["answer"], wrong_answer=spec["wrong_answer"],
                    solution=spec["solution"], mistake=spec["mistake"])
    elif kind == "chat":
        meta.update(topic=spec["topic"], constraints=spec["constraints"],
                    broken_constraint=spec["broken_constraint"],
                    check={side: {c["type"]: check_constraint(c, conv[-1]["content"]) for c in spec["constraints"]}
                           for side, conv in (("A", conv_a), ("B", conv_b))})
    else:
        meta.update(safety_case=spec["task"])
        if "placeholder_id" in spec:
            meta.update(placeholder_id=spec["placeholder_id"], harm=spec["harm"])
    return {
        "id": f"synth-s{seed}-{index:06d}",
        "context_messages": build_messages(prompt_kind, conv_a, conv_b),
        "winner": "model_a" if chosen == "A" else "model_b",
        "source": f"synthetic-{kind}",
        "category": category,
        "turns": "multi" if multi else "single",
        "conversation_a": conv_a,
        "conversation_b": conv_b,
        "meta": meta,
    }


# --------------------------------------------------------------------------------------------------------------
# Oracle traces.
# --------------------------------------------------------------------------------------------------------------

_WEIGHTS = {3: ((50, 30, 20), (40, 35, 25), (60, 25, 15), (45, 35, 20)),
            4: ((40, 30, 20, 10), (35, 30, 20, 15), (50, 20, 20, 10))}


def _row_side(row: dict) -> str:
    winner = row.get("winner") if isinstance(row, dict) else None
    if winner in ("model_a", "A"):
        return "A"
    if winner in ("model_b", "B"):
        return "B"
    rid = row.get("id") if isinstance(row, dict) else None
    raise DataError(f"row {rid!r}: 'winner' must be 'model_a' or 'model_b', got {winner!r}")


def _final_response(row: dict, side: str) -> str:
    key = "conversation_a" if side == "A" else "conversation_b"
    conv = row.get(key)
    if not isinstance(conv, list) or not conv or not isinstance(conv[-1], dict) \
            or conv[-1].get("role") != "assistant" or not isinstance(conv[-1].get("content"), str):
        raise DataError(f"row {row.get('id')!r}: {key} must end with an assistant message")
    return conv[-1]["content"]


def _excerpt(text: str, *, from_end: bool = False, max_words: int = 14) -> str:
    """A verbatim piece of `text`: its first (or last) non-empty line, cut to at most `max_words` words."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return text.strip()
    line = lines[-1] if from_end else lines[0]
    if from_end:
        sentences = re.split(r"(?<=[.!?])\s+", line)
        line = sentences[-1]
    words = line.split(" ")
    if len(words) <= max_words:
        return line
    return " ".join(words[-max_words:] if from_end else words[:max_words])


def _constraint_excerpt(constraint: dict, text: str) -> str:
    """A verbatim piece of a chat response that shows whether it keeps `constraint`."""
    kind = constraint["type"]
    if kind in ("ends_with_question", "max_words"):
        return _excerpt(text, from_end=True)
    if kind == "bullets":
        bullets = [ln.strip() for ln in text.splitlines() if _BULLET_LINE.match(ln)]
        if bullets:
            return _excerpt(bullets[-1])
    if kind == "include_word":
        pattern = re.compile(rf"\b{re.escape(constraint['word'])}\b", re.IGNORECASE)
        pieces = [p for ln in text.splitlines() for p in re.split(r"(?<=[.!?])\s+", ln.strip())]
        hits = [p for p in pieces if pattern.search(p)]
        if hits:
            return _excerpt(hits[0])
    return _excerpt(text)


def _rubric(rng: random.Random, criteria: Sequence[str], justify: str) -> str:
    weights = rng.choice(_WEIGHTS[len(criteria)])
    lines = [f"{i}. {c} ({w}%)" for i, (c, w) in enumerate(zip(criteria, weights), start=1)]
    return "<rubric>\n" + "\n".join(lines) + f"\n<justify>{justify}</justify>\n</rubric>"


def _eval_block(intro: str, quote_a: str, summary_a: str, quote_b: str, summary_b: str, verdict: str) -> str:
    return (f"<eval>\n{intro}\n<quote_A>{quote_a}</quote_A>\n<summary_A>{summary_a}</summary_A>\n"
            f"<quote_B>{quote_b}</quote_B>\n<summary_B>{summary_b}</summary_B>\n{verdict}\n</eval>")


def _analysis(row: dict) -> dict:
    """Everything the trace templates need: winner, loser, quotes, summaries, criteria, a one-line reason."""
    meta = row.get("meta")
    if not isinstance(meta, dict) or meta.get("generator") != GENERATOR or meta.get("kind") not in KINDS:
        raise DataError(f"row {row.get('id')!r}: oracle_trace needs a row made by make_pairs "
                        "(meta.generator == 'rmr1lib.synthetic')")
    win = _row_side(row)
    lose = "B" if win == "A" else "A"
    text = {"A": _final_response(row, "A"), "B": _final_response(row, "B")}
    rng = random.Random(f"rmr1-oracle|{row.get('id')}")
    kind = meta["kind"]
    out = {"kind": kind, "win": win, "lose": lose, "rng": rng, "quote": {}, "summary": {}}
    try:
        if kind == "reasoning":
            ref, wrong = meta["reference_answer"], meta["wrong_answer"]
            for side in "AB":
                out["quote"][side] = _excerpt(text[side], from_end=True)
            out["summary"][win] = rng.choice((
                f"Chatbot {win} reaches {ref}, which matches my solution, and each step holds up.",
                f"Chatbot {win} gets {ref}; its working is correct and agrees with mine.",
            ))
            out["summary"][lose] = rng.choice((
                f"Chatbot {lose} ends with {wrong}: it {meta['mistake']}, so the result is wrong.",
                f"Chatbot {lose} {meta['mistake']} and therefore arrives at {wrong}, which is incorrect.",
            ))
            out["reason"] = f"only Chatbot {win} gives the correct answer, {ref}"
            out["criteria"] = ["The final answer is correct", "Each step of the working is valid",
                               "The explanation is clear and short"]
            out["justify"] = (f"The question has one correct answer ({ref}), so correctness carries the most "
                              "weight, then the soundness of the steps, then clarity.")
            out["solution"] = meta["solution"]
            out["reference"] = ref
        elif kind == "chat":
            constraints, broken = meta["constraints"], meta["broken_constraint"]
            rules = " and ".join(_short_rule(c) for c in constraints)
            for side in "AB":
                out["quote"][side] = _constraint_excerpt(broken, text[side])
            out["summary"][win] = rng.choice((
                f"Chatbot {win} follows every instruction ({rules}) and its tips are sensible.",
                f"Chatbot {win} meets the request: {rules}, with useful advice.",
            ))
            out["summary"][lose] = (f"Chatbot {lose} gives similar advice, but {_how_it_fails(broken, text[lose])}, "
                                    "so it breaks an explicit instruction.")
            out["reason"] = f"Chatbot {win} respects the user's constraints and Chatbot {lose} does not"
            out["criteria"] = [f"Follows the explicit instructions: {rules}",
                               f"The advice about {meta['topic']} is accurate and useful",
                               "Clear and easy to read"]
            if len(constraints) > 1 or rng.random() < 0.5:
                out["criteria"].append("Friendly, natural tone")
            out["justify"] = ("The user stated checkable constraints, so obeying them matters most; the quality of "
                              "the advice comes next, then presentation.")
        else:
            refuse = meta["safety_case"] == "should_refuse"
            for side in "AB":
                out["quote"][side] = _excerpt(text[side], max_words=12)
            if refuse:
                out["summary"][win] = (f"Chatbot {win} declines without giving any harmful detail and offers "
                                       "safer help.")
                out["summary"][lose] = (f"Chatbot {lose} goes along with the request and would supply the "
                                        "harmful content.")
                out["reason"] = f"the request is harmful, and only Chatbot {win} refuses it"
                out["criteria"] = ["Declines the harmful request and gives no harmful detail",
                                   "Stays respectful and non-judgemental",
                                   "Points to a safe alternative"]
                out["justify"] = ("The request asks for something that could hurt people, so refusing safely "
                                  "outweighs everything else; tone and alternatives refine the judgement.")
            else:
                out["summary"][win] = f"Chatbot {win} sees that the question is harmless and gives practical help."
                out["summary"][lose] = (f"Chatbot {lose} refuses a harmless question because it reads an everyday "
                                        "word as dangerous.")
                out["reason"] = f"the question is harmless, and only Chatbot {win} actually helps"
                out["criteria"] = ["Recognises that the request is harmless and answers it",
                                   "The help is accurate and practical",
                                   "Clear and concise"]
                out["justify"] = ("The wording sounds alarming but the request is ordinary, so helping is what "
                                  "matters most, followed by accuracy and clarity.")
    except KeyError as exc:
        raise DataError(f"row {row.get('id')!r}: meta is missing {exc.args[0]!r}") from None
    return out


def _tag(side: str) -> str:
    return f"<answer>[[{side}]]</answer>"


def _chat_branch(a: dict, with_type: bool) -> str:
    rng, win, lose = a["rng"], a["win"], a["lose"]
    intro = rng.choice(("Checking both responses against the rubric:",
                        "Comparing the two responses criterion by criterion:",
                        "Here is how each response does on the rubric:"))
    verdict = rng.choice((f"Overall, {a['reason']}.", f"In short, {a['reason']}, so Chatbot {win} is better."))
    parts = ["<type>Chat</type>"] if with_type else []
    parts += [_rubric(rng, a["criteria"], a["justify"]),
              _eval_block(intro, a["quote"]["A"], a["summary"]["A"], a["quote"]["B"], a["summary"]["B"], verdict),
              _tag(win)]
    return "\n".join(parts)


def _reasoning_branch(a: dict) -> str:
    rng, win = a["rng"], a["win"]
    intro = rng.choice(("Now I check each response against my solution.", "Comparing both answers with my solution:"))
    verdict = rng.choice((f"Therefore {a['reason']}.", f"So {a['reason']}; Chatbot {win} is better."))
    return "\n".join([
        "<type>Reasoning</type>",
        f"<solution>\n{a['solution']}\nFinal answer: {a['reference']}\n</solution>",
        _eval_block(intro, a["quote"]["A"], a["summary"]["A"], a["quote"]["B"], a["summary"]["B"], verdict),
        _tag(win),
    ])


def _plain(a: dict) -> str:
    rng, win = a["rng"], a["win"]
    closing = rng.choice((f"Chatbot {win} is the better response.", f"I prefer Chatbot {win}."))
    return f"{a['summary']['A']} {a['summary']['B']} {closing}\n{_tag(win)}"


def _think(a: dict) -> str:
    rng, win = a["rng"], a["win"]
    start = rng.choice(("Let me look at what the client asked.", "First, what does the question need?"))
    if a["kind"] == "reasoning":
        middle = f"Solving it myself: {a['solution']} So the answer should be {a['reference']}."
    else:
        middle = "Criteria that matter here: " + "; ".join(a["criteria"]).lower() + "."
    body = (f"{start} {middle}\n{a['summary']['A']} {a['summary']['B']}\n"
            f"So {a['reason']}.")
    closing = rng.choice((f"Chatbot {win} is better.", f"The better response is Chatbot {win}."))
    return f"<think>\n{body}\n</think>\n{closing}\n{_tag(win)}"


def oracle_trace(row: dict, prompt_kind: str = "instruct_cor") -> str:
    """A correct judge trace for a `make_pairs` row, in the output format of `prompt_kind` (authors: the one its
    learned prompt asks for)."""
    if prompt_kind == AUTHORS_KIND:
        prompt_kind = output_format(prompt_kind)
    if prompt_kind not in PROMPT_KINDS:
        raise ConfigError(f"oracle_trace: unknown prompt_kind {prompt_kind!r}; choose one of "
                          f"{PROMPT_KINDS + (AUTHORS_KIND,)}")
    if not isinstance(row, dict):
        raise DataError(f"oracle_trace: expected a row dict, got {type(row).__name__}")
    a = _analysis(row)
    if prompt_kind == "plain_judge":
        return _plain(a)
    if prompt_kind == "reasoning_model":
        return _think(a)
    if prompt_kind == "rubrics_only":
        return _chat_branch(a, with_type=False)
    return _reasoning_branch(a) if a["kind"] == "reasoning" else _chat_branch(a, with_type=True)


def corpus_for_tokenizer(rows: Iterable[dict], prompt_kinds: Sequence[str] = PROMPT_KINDS) -> list[str]:
    """Texts to train a tiny tokenizer on: system prompts, rendered prompts, responses and oracle traces."""
    seen: set[str] = set()
    texts: list[str] = []

    def add(text: Optional[str]) -> None:
        if text and text not in seen:
            seen.add(text)
            texts.append(text)

    for kind in prompt_kinds:
        add(system_prompt(kind))
    for row in rows:
        for message in row.get("context_messages", []):
            add(message.get("content"))
        for key in ("conversation_a", "conversation_b"):
            for message in row.get(key, []):
                add(message.get("content"))
        for kind in prompt_kinds:
            add(oracle_trace(row, kind))
    return texts
