"""Evaluation on RewardBench, RM-Bench and RMB (the paper's experiments; facts doc §6).

For now this module holds the model-free command line, which re-scores a results file with the benchmarks'
own rules (see rmr1lib.scoring for the row format and the rules):

    python -m rmr1lib.evaluate score RESULTS.jsonl [--rmbench-reference-bug] [--benchmark NAME]

It prints one JSON object, {benchmark: scores}, for each benchmark present in the file. A malformed file or
row is reported on stderr with the file, line number and key, and the exit code is 2.

Module-level imports stay pure (standard library and the pure core): model evaluation, when added here,
imports its engines (vLLM, transformers) inside the functions that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from .errors import RmR1Error
from .scoring import BENCHMARKS, score_file


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m rmr1lib.evaluate`."""
    parser = argparse.ArgumentParser(prog="python -m rmr1lib.evaluate",
                                     description="Evaluate RM-R1 style judges; re-score saved results.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    score = commands.add_parser("score", help="re-score a results JSONL file (no model needed)",
                                description="Print the benchmark scores of a results JSONL file as JSON.")
    score.add_argument("results", metavar="RESULTS.jsonl", help="one JSON row per judged comparison")
    score.add_argument("--rmbench-reference-bug", action="store_true",
                       help="reproduce the reference script's RM-Bench aggregation bug (off by default); the "
                            "output then also shows how far each RM-Bench number moves")
    score.add_argument("--benchmark", choices=BENCHMARKS, help="score only this benchmark")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    if args.command == "score":
        try:
            scores = score_file(args.results, rmbench_reference_bug=args.rmbench_reference_bug,
                                benchmarks=args.benchmark)
        except (RmR1Error, OSError, UnicodeDecodeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            if ", line " in str(exc):
                print("Fix that row (the result-row format is described in rmr1lib/scoring.py) and run again.",
                      file=sys.stderr)
            return 2
        print(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
