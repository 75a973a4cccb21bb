"""VQA evaluation: zero-shot on an RSVQA-layout split, or train the fusion head and test it.

    .venv/bin/python eval/vqa.py --model rsvl-tiny --data ../shared/data/rsvqa_lr_sample \
        --bin-counts --out results/
    .venv/bin/python eval/vqa.py --model rsvl-tiny --data out/rsvqa_synthetic/vqa \
        --method head --train-split train --split test --out results/

The same as ``rsvl eval vqa ...``: one result JSON per run
in ``--out``, which ``rsvl report --results-dir`` tabulates with the other evaluations.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rsvl.cli import main as rsvl_main


def main(argv: Sequence[str] | None = None) -> int:
    return rsvl_main(["eval", "vqa", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
