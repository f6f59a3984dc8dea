"""Which part of a benchmark chat pair breaks a smoke judge's reading of the client's rule?

Judges chat pairs whose client's message comes from one split of the synthetic generator and whose replies come
from another (rmr1lib.judging.reply_wording_probe), each in both orders, and prints per condition how many
judgements named the client's rule, read both replies right for the rule they named, took the verdict from their own
look-up, and were right. Example, on the distilled judge of a workbook run:

    .venv/bin/python scripts/probe_reply_wording.py runs/smoke/NAME/artifacts/sft/model

docs/experiments.md ("Stop 25") shows what it measured on the smoke judges.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a judge's model folder (e.g. runs/smoke/NAME/artifacts/sft/model)")
    parser.add_argument("--n", type=int, default=40, help="pairs per condition, each judged in both orders")
    parser.add_argument("--seed", type=int, default=1_000_003, help="data seed (the default: one no run trains on)")
    parser.add_argument("--profile", default="smoke", help="profile for the engine, prompt kind and sampling")
    parser.add_argument("--backend", choices=("vllm", "transformers"), default=None,
                        help="generation engine (default: the profile's)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON instead of a table")
    args = parser.parse_args(argv)

    from rmr1lib.errors import RmR1Error
    from rmr1lib.generation import generator_from_profile, sampling_from_profile
    from rmr1lib.judging import reply_wording_probe
    from rmr1lib.profiles import load_profile
    from rmr1lib.runtime import setup

    model = Path(args.model)
    if not (model / "config.json").is_file():
        print(f"probe_reply_wording: {model} is not a model folder (no config.json)", file=sys.stderr)
        return 2
    try:
        profile = load_profile(args.profile)
        setup(profile, args.seed)  # the engine's CPU settings, threads and seeds, as a notebook sets them
        generator = generator_from_profile(profile, str(model), seed=args.seed, backend=args.backend)
        try:
            table = reply_wording_probe(generator, profile.judge.prompt_kind,
                                        sampling_from_profile(profile, seed=args.seed), n=args.n, seed=args.seed)
        finally:
            generator.close()
    except RmR1Error as exc:
        print(f"probe_reply_wording: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    print(f"{'condition':52s} {'judged':>6s} {'rule':>5s} {'replies':>7s} {'verdict':>7s} {'right':>5s}")
    for name, c in table.items():
        print(f"{name:52s} {c['judgements']:6d} {c['rule_read']:5d} {c['replies_read']:7d} "
              f"{c['decision_follows']:7d} {c['right']:5d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
