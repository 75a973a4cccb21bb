"""VQA evaluation: zero-shot on an RSVQA-layout split, or train the fusion head and test it.

    .venv/bin/python eval/vqa.py --model rsvl-tiny --dataset ../shared/data/rsvqa_lr_sample \
        --bin-counts --out results/
    .venv/bin/python eval/vqa.py --model rsvl-tiny --dataset out/rsvqa_synthetic/vqa \
        --method head --train-split train --split test --out results/

The same as ``rsvl eval vqa ...`` (a task of ``rsvl.evaluation.runner``, so a rerun with the
same protocol keeps the stored result): one result JSON per run in ``--out``, with the
majority, per-type majority and question-only baselines, which ``rsvl report results/``
tabulates with the other evaluations.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rsvl.cli import main as rsvl_main


def main(argv: Sequence[str] | None = None) -> int:
    return rsvl_main(["eval", "vqa", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
