"""The notebook side of a workbook run: one call at the top of every notebook.

    ctx = start_notebook("01_data_prep", profile=profile, overrides=overrides, run_name=run_name)

loads and validates the profile, applies the runtime settings (threads, offline mode, seed), opens the run
folder and records the notebook's parameters in the manifest. Notebooks then read and write artifacts through
`ctx.run`, save them with `ctx.save_json` / `ctx.save_jsonl`, and save figures with `ctx.save_figure`.

The helpers below are the plumbing every notebook would otherwise repeat: the judge's starting model (built
once per run on the smoke profile), the prepared pairs, which judge a stage starts from or evaluates, and a
generation engine started from the profile for a quick look at a model's judgements.

Workbook layer: imports the engines lazily, inside the helpers that need them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, Union

from . import runtime
from .errors import RmR1Error
from .files import atomic_path, atomic_write_json, atomic_write_jsonl
from .profiles import Profile, load_profile, parse_overrides
from .runs import Run, now_iso, open_profile_run

INTERACTIVE_RUN = "interactive"


@dataclass
class NotebookContext:
    """What a notebook needs: its name, the validated profile, the run folder and the seed in force."""

    notebook: str
    profile: Profile
    run: Run
    seed: int
    started: float

    def save_figure(self, fig: Any, name: str, caption: str = "") -> Path:
        """Save a matplotlib figure as PNG under the run's figures/ (atomically) and register it."""
        target = self.run.figure_path(name)
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight", format=target.suffix.lstrip("."))
        self.run.record_artifact(f"figures/{target.name}", self.notebook, target, kind="figure", caption=caption)
        return target

    def record(self, name: str, path: Optional[Union[str, Path]] = None, /, **info: Any) -> Path:
        """Register an artifact this notebook has completely written."""
        return self.run.record_artifact(name, self.notebook, path, seed=self.seed, **info)

    def save_json(self, name: str, obj: Any, /, **info: Any) -> Path:
        """Write `obj` as the JSON artifact `name` (atomically) and register it."""
        return self.record(name, atomic_write_json(self.run.path(name), obj), **info)

    def save_jsonl(self, name: str, rows: Iterable[Any], /, **info: Any) -> Path:
        """Write `rows` as the JSON Lines artifact `name` (atomically) and register it."""
        return self.record(name, atomic_write_jsonl(self.run.path(name), rows), **info)

    def elapsed(self) -> float:
        """Seconds since the notebook started."""
        return time.time() - self.started


def start_notebook(
    notebook: str,
    profile: str = "smoke",
    overrides: Union[None, dict, str, list] = None,
    run_name: Optional[str] = None,
    seed: Optional[int] = None,
) -> NotebookContext:
    """Validate the parameters, set up the runtime and open the run; the first call in every notebook."""
    prof = load_profile(profile, overrides)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise RmR1Error(f"notebook {notebook}: parameter seed must be a non-negative integer, got {seed!r}")
        prof.seed = seed
    runtime.setup(prof)
    run = open_profile_run(prof, run_name or INTERACTIVE_RUN, overrides=parse_overrides(overrides),
                           who=f"notebook {notebook}")
    run.notebook_status(notebook, parameters={"profile": str(profile), "overrides": overrides or {},
                                              "run_name": run.name, "seed": prof.seed},
                        kernel_started=now_iso())
    ctx = NotebookContext(notebook=notebook, profile=prof, run=run, seed=prof.seed, started=time.time())
    use_run_prompt(ctx)
    return ctx


AUTHORS_TEMPLATE_ARTIFACT = "authors_template.json"


def use_run_prompt(ctx: NotebookContext) -> dict:
    """Record the run's judge prompt in the manifest; for kind `authors`, learn the template once per run (from
    judge.authors_source) and render with that same template in every notebook.

    The manifest's `prompt` entry holds the kind and, for `authors`, the template's fingerprint and what it was
    learned from. The template itself (the authors' wording) is a run artifact, never part of the repository.
    """
    from .authors import AuthorsTemplate, use_authors_template

    prof = ctx.profile
    entry = {"kind": prof.judge.prompt_kind, "recipe": prof.recipe(), "released_inputs": prof.released_inputs(),
             "mixed_prompts": prof.judge.mixed_prompts}
    if prof.judge.prompt_kind != "authors":
        use_authors_template(None)
    else:
        import json

        if ctx.run.has_artifact(AUTHORS_TEMPLATE_ARTIFACT):
            where = ctx.run.artifact(AUTHORS_TEMPLATE_ARTIFACT)
            template = AuthorsTemplate.from_dict(json.loads(where.read_text()), str(where))
        else:
            from .data import authors_source_for, authors_template

            template = authors_template(authors_source_for(prof), seed=prof.seed)
            ctx.save_json(AUTHORS_TEMPLATE_ARTIFACT, template.as_dict(), kind="prompt",
                          fingerprint=template.fingerprint(), source=template.report.get("source"))
        use_authors_template(template)
        entry.update(template=template.fingerprint(), learned_from=template.report.get("source"),
                     checked=template.report.get("checked"))
    recorded = ctx.run.manifest().get("prompt")
    if recorded and recorded.get("template") != entry.get("template"):
        raise RmR1Error(f"run {ctx.run.dir}: its judge prompt was {recorded}, this notebook would use {entry}; one "
                        "run uses one prompt throughout (start a new run)")
    ctx.run.update(prompt=entry)
    return entry


#: Notebooks a recipe leaves out, and why (the runner skips them; run by hand they stop with the reason).
def skip_reason(profile: Profile, notebook: str) -> str:
    """Why `notebook` does not run for this profile ('' when it does)."""
    if notebook.startswith("03_") and profile.recipe() == "rl_only":
        return ("model.recipe is rl_only (the paper's DeepSeek-distilled judges): no distillation stage; "
                "notebook 04 starts RL from the base model")
    return ""


class StageSkipped(RmR1Error):
    """A notebook's stage is not part of the profile's recipe."""


def require_stage(ctx: NotebookContext) -> None:
    """Stop a notebook whose stage the profile's recipe leaves out, saying why (the runner never starts it)."""
    reason = skip_reason(ctx.profile, ctx.notebook)
    if reason:
        ctx.run.notebook_status(ctx.notebook, status="skipped", reason=reason)
        raise StageSkipped(f"{ctx.notebook} is skipped: {reason}")


TINY_MODEL_ARTIFACT = "tiny_model"
BASE_MODEL_ARTIFACT = "base_model"             # a GGUF model source, converted once into the run
TOKENIZER_CORPUS_PAIRS = 512


def base_model_path(ctx: NotebookContext, profile: Optional[Profile] = None,
                    artifact: str = TINY_MODEL_ARTIFACT) -> str:
    """The judge's starting model: the run's offline tiny model (built once per run), the profile's GGUF model
    converted once into the run (its origin recorded in the manifest), or the profile's folder or hub model.

    `profile` (default: the notebook's) and `artifact` give another starting model in the same run, e.g. a tiny
    model of another width for notebook 07's size sweep."""
    prof = profile or ctx.profile
    if prof.model.family != "tiny":
        from .hub import model_origin, resolve_model
        from .sources import parse_model_source

        if parse_model_source(prof.model_name()).kind != "gguf":
            return resolve_model(prof.model_name())
        if ctx.run.has_artifact(BASE_MODEL_ARTIFACT):
            return str(ctx.run.artifact(BASE_MODEL_ARTIFACT))
        path = resolve_model(prof.model_name(), convert_to=ctx.run.path(BASE_MODEL_ARTIFACT))
        ctx.record(BASE_MODEL_ARTIFACT, path, kind="model", origin=model_origin(path))
        return path
    if prof.model.name_or_path != "auto":
        return prof.model.name_or_path
    return tiny_model_path(ctx, prof, artifact)


def tiny_model_path(ctx: NotebookContext, profile: Optional[Profile] = None,
                    artifact: str = TINY_MODEL_ARTIFACT) -> str:
    """The run's offline tiny model, built once per run (on any profile: the untrained reference judge of the
    zero-shot sections): random weights, then `model.tiny.copy_pretrain_steps` of copy pre-training;
    `profile` and `artifact` as in base_model_path."""
    prof = profile or ctx.profile
    if ctx.run.has_artifact(artifact):
        return str(ctx.run.artifact(artifact))
    from .prompts import PROMPT_KINDS, fixed_texts, system_prompt
    from .synthetic import corpus_for_tokenizer, make_pairs
    from .tinymodel import build_tiny_model

    # the tokenizer learns from the same kind of text the judge will read and write: synthetic pairs,
    # every prompt kind's system prompt, and oracle traces (corpus_for_tokenizer includes them)
    rows = make_pairs(TOKENIZER_CORPUS_PAIRS, seed=prof.seed, kinds=tuple(prof.data.kinds))
    corpus = corpus_for_tokenizer(rows) + [s for s in map(system_prompt, PROMPT_KINDS) if s]
    tiny = prof.model.tiny
    path = build_tiny_model(
        ctx.run.path(artifact), corpus, vocab_size=tiny.vocab_size, hidden_size=tiny.hidden_size,
        num_layers=tiny.num_layers, num_heads=tiny.num_heads, num_kv_heads=tiny.num_kv_heads,
        intermediate_size=tiny.intermediate_size, max_positions=tiny.max_positions, seed=prof.seed,
        added_tokens=fixed_texts(), copy_steps=tiny.copy_pretrain_steps, log=print,
    )
    ctx.record(artifact, path, kind="model", corpus_pairs=TOKENIZER_CORPUS_PAIRS)
    return str(path)


# Artifacts that notebooks hand to each other, with the notebook that produces each.
PAIRS_ARTIFACT = "{split}_pairs.jsonl"          # 01_data_prep: split = train | heldout
TRACES_ARTIFACT = "traces.jsonl"                # 03_distillation: the kept teacher traces SFT trains on
SFT_MODEL_ARTIFACT = "sft_model"                # 03_distillation (a full model folder, LoRA merged)
RL_MODEL_ARTIFACT = "rl_model"                  # 04_rl_single_gpu (a full model folder, LoRA merged)
JUDGE_CHAIN = (RL_MODEL_ARTIFACT, SFT_MODEL_ARTIFACT)


def load_pairs(ctx: NotebookContext, split: str) -> list[dict]:
    """The run's prepared preference pairs for `split` ('train' or 'heldout'), written by 01_data_prep."""
    from .files import read_jsonl

    if split not in ("train", "heldout"):
        raise RmR1Error(f"load_pairs: split must be 'train' or 'heldout', got {split!r}")
    return read_jsonl(ctx.run.artifact(PAIRS_ARTIFACT.format(split=split)))


def latest_judge(ctx: NotebookContext) -> tuple[str, str]:
    """(stage, model path) of the most trained judge in the run: RL, else SFT, else the base model."""
    for name in JUDGE_CHAIN:
        if ctx.run.has_artifact(name):
            return name, str(ctx.run.artifact(name))
    return "base", base_model_path(ctx)


def judge_to_evaluate(ctx: NotebookContext) -> tuple[str, str]:
    """(stage, model) notebook 06 evaluates: eval.checkpoint 'auto' is the run's latest judge, else as given."""
    checkpoint = ctx.profile.eval.checkpoint
    if checkpoint == "auto":
        return latest_judge(ctx)
    return checkpoint, checkpoint


def grpo_start_model(ctx: NotebookContext) -> tuple[str, str]:
    """(stage, model) GRPO starts from: the run's distilled judge ('sft'), or the base model ('base') when there is
    none, for the cold-start ablation (rl.reward 'cold_start') and for the rl_only recipe (model.recipe)."""
    from .rl import start_checkpoint

    sft = str(ctx.run.artifact(SFT_MODEL_ARTIFACT)) if ctx.run.has_artifact(SFT_MODEL_ARTIFACT) else None
    return start_checkpoint(ctx.profile.rl.reward, sft, base_model_path(ctx), ctx.profile.recipe())


RL_POOL_ARTIFACT = "rl_pool.json"


def rl_training_rows(ctx: NotebookContext, train_rows: Sequence[dict]) -> tuple[list[dict], dict]:
    """The pairs GRPO trains on: the training pairs without those the distillation stage trained on
    (rl.exclude_distilled_pairs; the paper's Instruct RL set leaves them out), with the counts saved as rl_pool.json."""
    from .data import exclude_distilled
    from .errors import DataError
    from .files import read_jsonl

    prof = ctx.profile
    report = {"rows": len(train_rows), "excluded": 0, "kept": len(train_rows), "recipe": prof.recipe(),
              "exclude_distilled_pairs": prof.rl.exclude_distilled_pairs}
    rows = list(train_rows)
    if not prof.rl.exclude_distilled_pairs:
        report["why"] = "rl.exclude_distilled_pairs is false: RL trains on every training pair"
    elif prof.recipe() == "rl_only" or not ctx.run.has_artifact(TRACES_ARTIFACT):
        report["why"] = "no distillation stage in this run: nothing to exclude"
    else:
        rows, counts = exclude_distilled(train_rows, read_jsonl(ctx.run.artifact(TRACES_ARTIFACT)))
        report.update(counts, why="pairs the distillation SFT trained on are left out (matched by id or prompt)")
        if not rows:
            raise DataError(f"every one of the {len(train_rows)} training pairs was used for distillation, so the RL "
                            "pool is empty; lower distill.sample_fraction or set rl.exclude_distilled_pairs: false")
    ctx.save_json(RL_POOL_ARTIFACT, report, kind="report")
    return rows, report


def generate_texts(ctx: NotebookContext, model_path: str, conversations: Sequence[list],
                   max_new_tokens: Optional[int] = None, backend: Optional[str] = None) -> list[str]:
    """Completions of a model for chat conversations, with the profile's sampling settings and engine (or
    `backend`: 'transformers' answers a handful of prompts on a small model without starting a serving engine)."""
    from .generation import generator_from_profile, sampling_from_profile

    generator = generator_from_profile(ctx.profile, model_path, seed=ctx.seed, backend=backend)
    try:
        return generator.generate(list(conversations),
                                  sampling_from_profile(ctx.profile, seed=ctx.seed, max_new_tokens=max_new_tokens))
    finally:
        generator.close()


def judge_rows(ctx: NotebookContext, model_path: str, rows: Sequence[dict], orders: str = "given") -> list[dict]:
    """Judge preference rows with a model (profile engine, sampling and prompt kind): one scored result per row
    (`orders="given"`), or two, as placed and swapped (`"both"`, for position consistency)."""
    from .generation import generator_from_profile, sampling_from_profile
    from .judging import judge_pairs

    generator = generator_from_profile(ctx.profile, model_path, seed=ctx.seed)
    try:
        return judge_pairs(generator, rows, ctx.profile.judge.prompt_kind,
                           sampling_from_profile(ctx.profile, seed=ctx.seed), orders=orders)
    finally:
        generator.close()


def _message_texts(messages: Optional[Iterable[dict]]) -> list[str]:
    return [m["content"] for m in messages or () if isinstance(m, dict) and isinstance(m.get("content"), str)]


def pair_texts(row: dict) -> list[str]:
    """The texts of a preference row the judge reads: the client's turns once and both responses; for a row that
    holds only the rendered judge prompt (released RL rows), that prompt's non-system messages."""
    if row.get("conversation_a") and row.get("conversation_b"):
        return _message_texts(row["conversation_a"]) + _message_texts(row["conversation_b"][-1:])
    return _message_texts(m for m in row.get("context_messages") or () if m.get("role") != "system")


def unseen_tokens(ctx: NotebookContext, model_path: str, comparisons_by_set: dict[str, Sequence]) -> dict:
    """Per set of comparisons (rmr1lib.benchmarks.Comparison: the client's turns and both responses), and for the
    run's held-out pairs: how many of its tokens never occur in the judge's distillation data (notebook 03's
    `traces.jsonl`: prompts and traces). Empty when the run has no traces (notebook 03 did not run)."""
    from .files import read_jsonl
    from .tokens import TokenCounter

    if not ctx.run.has_artifact(TRACES_ARTIFACT):
        return {}
    counter = TokenCounter.from_pretrained(model_path, ctx.profile.model.trust_remote_code)
    seen = counter.token_set(list(dict.fromkeys(  # one of each text
        t for r in read_jsonl(ctx.run.artifact(TRACES_ARTIFACT))
        for t in _message_texts(r.get("prompt", [])) + _message_texts(r.get("completion", [])))))
    sets: dict[str, list[str]] = {}
    if ctx.run.has_artifact(PAIRS_ARTIFACT.format(split="heldout")):
        sets["held-out pairs (notebook 03)"] = [t for r in load_pairs(ctx, "heldout") for t in pair_texts(r)]
    for name, comparisons in comparisons_by_set.items():
        sets[name] = [t for c in comparisons for t in _message_texts(c.context) + [c.chosen, c.rejected]]
    return {name: counter.unseen(seen, texts) for name, texts in sets.items()}


def judge_both_orders(ctx: NotebookContext, model_path: str, rows: Sequence[dict]) -> list[dict]:
    """Judge each pair twice, as placed and with A and B swapped (one engine start): one row per judgement with
    the pair's `id`, `order` ('AB': the preferred response shown as A, 'BA': shown as B), the `verdict` under the
    profile's verdict rule, `correct` and the `text` (the layout of evaluation result rows)."""
    from .judging import has_responses

    missing = [r.get("id") for r in rows if not has_responses(r)]
    if missing:
        raise RmR1Error(f"judge_both_orders: rows {missing[:5]} carry no raw pair (conversation_a/b) to swap; "
                        "released RL rows hold only the rendered prompt")
    rule = ctx.profile.judge.verdict_rule
    return [{"id": r["id"], "order": r["order"], "verdict": r[f"verdict_{rule}"], "correct": r[f"correct_{rule}"],
             "text": r["text"]} for r in judge_rows(ctx, model_path, rows, orders="both")]
