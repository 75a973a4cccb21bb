"""VQA evaluation: zero-shot on an RSVQA-layout split, or train the fusion head and test it.

    .venv/bin/python eval/vqa.py --model rsvl-tiny --data ../shared/data/rsvqa_lr_sample \
        --bin-counts --out results/
    .venv/bin/python eval/vqa.py --model rsvl-tiny --data out/rsvqa_synthetic/vqa \
        --method head --train-split train --split test --out results/

Thin wrapper over ``rsvl.cli.eval_vqa`` (the ``rsvl eval`` VQA task): one result JSON per run
in ``--out``, which ``rsvl report --results-dir`` tabulates with the other evaluations.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rsvl.cli import eval_vqa
from rsvl.errors import RsvlError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    eval_vqa.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return eval_vqa.run(args)
    except RsvlError as error:
        print(f"eval/vqa.py: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
