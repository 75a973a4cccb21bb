"""Run an evaluation suite (eval/suites/*.json) for one or more models, then build the report.

    python eval/run_suite.py --suite eval/suites/rs-zeroshot.json --root DATA \
        --model rsvl-tiny --model runs/tiny/export --out results/

Thin wrapper over ``rsvl eval suite`` and ``rsvl report``: all logic lives in rsvl.evaluation.
"""

from __future__ import annotations

import argparse
import sys

from rsvl.cli import main as rsvl_main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", required=True)
    parser.add_argument("--model", action="append", required=True, help="repeat for several")
    parser.add_argument("--root", help="folder holding the datasets (default $RSVL_DATA_DIR)")
    parser.add_argument("--out", default="results")
    args, rest = parser.parse_known_args(argv)
    root = ["--root", args.root] if args.root else []
    for model in args.model:
        code = rsvl_main(["eval", "suite", "--suite", args.suite, "--model", model,
                          "--out", args.out, *root, *rest])
        if code not in (0, 2):
            return code
    return rsvl_main(["report", args.out])


if __name__ == "__main__":
    sys.exit(main())
