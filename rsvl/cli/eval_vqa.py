"""``rsvl eval vqa``: answer an RSVQA-layout split zero-shot or with a trained head; one JSON.

Exposes ``HELP``, ``add_arguments(parser)`` and ``run(args)``, to be wired as a task of
``rsvl eval``; heavy modules are imported inside :func:`run`.
"""

from __future__ import annotations

import argparse
import sys

from rsvl.errors import ConfigError

HELP = "VQA on the RSVQA layout: zero-shot CLIP or a trained fusion head (OA, AA, per type)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Model, data, method, head training and output options."""
    parser.add_argument("--model", required=True, help="model spec (rsvl-tiny, ARCH:TAG, folder)")
    parser.add_argument("--data", required=True, help="RSVQA-layout folder (*_split_*_*.json)")
    parser.add_argument("--split", help="split to evaluate (default: test, or the only one)")
    parser.add_argument("--prefix", help="file prefix (LR, USGS, OSM...) when several")
    parser.add_argument("--method", choices=("zero-shot", "head"), default="zero-shot")
    parser.add_argument("--train-split", help="training split: majority baseline, zero-shot "
                        "candidates, and the head's training data when --head is not given")
    parser.add_argument("--head", help="folder of a trained head (vqa_head.json) to evaluate")
    parser.add_argument("--save-head", help="folder to save the head trained here")
    parser.add_argument("--epochs", type=int, default=30, help="head training epochs")
    parser.add_argument("--hidden", type=int, default=256, help="head fusion width")
    parser.add_argument("--top-answers", type=int, default=100, help="head answer vocabulary")
    parser.add_argument("--head-batch-size", type=int, default=64,
                        help="head training batch (default 64)")
    parser.add_argument("--head-lr", type=float, default=2e-3,
                        help="head peak learning rate (default 0.002)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bin-counts", action="store_true",
                        help="score count answers by their RSVQA-LR bins")
    parser.add_argument("--out", default="results", help="results folder (default: results/)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="images per encoder batch (default 64)")
    parser.add_argument("--cache-dir", default=".rsvl-cache", help="feature cache folder")


def _split(args: argparse.Namespace) -> str | None:
    from rsvl.vqa.rsvl_format import list_splits

    names = {s for p, s in list_splits(args.data) if args.prefix in (None, p)}
    return args.split or ("test" if "test" in names else None)


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the result JSON, print its path and a one-line summary."""
    from rsvl.evaluation.features import FeatureOptions
    from rsvl.evaluation.results import make_result, write_result
    from rsvl.evaluation.vqa.evaluate import evaluate_vqa
    from rsvl.evaluation.vqa.head import load_head, save_head, train_vqa_head
    from rsvl.models import load_clip
    from rsvl.vqa.rsvl_format import read_rsvqa

    dataset = read_rsvqa(args.data, _split(args), args.prefix)
    train = read_rsvqa(args.data, args.train_split, args.prefix) if args.train_split else None
    if args.method == "head" and not (args.head or train):
        raise ConfigError("--method head needs --head FOLDER or --train-split to train one")
    options = FeatureOptions(batch_size=args.batch_size, cache_dir=args.cache_dir)
    loaded = load_clip(args.model, device=args.device)
    head = None
    if args.method == "head":
        head = load_head(args.head) if args.head else train_vqa_head(
            loaded, train, hidden=args.hidden, top_answers=args.top_answers,  # type: ignore[arg-type]
            epochs=args.epochs, batch_size=args.head_batch_size, lr=args.head_lr,
            seed=args.seed, options=options)
        if args.save_head:
            save_head(head, args.save_head)
    outcome = evaluate_vqa(loaded, dataset, method=args.method, train=train, head=head,
                           bin_counts=args.bin_counts, options=options)
    path = write_result(args.out, make_result(outcome, loaded, command=sys.argv))
    metrics = outcome["metrics"]
    per_type = " ".join(f"{t}={a:.4f}" for t, a in metrics["per_type_accuracy"].items())
    print(f"{outcome['task']} {dataset.name}/{dataset.split} ({metrics['num_questions']} "
          f"questions): OA={metrics['oa']:.4f} AA={metrics['aa']:.4f} {per_type}; majority "
          f"OA={metrics['majority_oa']:.4f} (per type {metrics['majority_per_type_oa']:.4f})",
          file=sys.stderr)
    print(path)
    return 0


__all__ = ["HELP", "add_arguments", "run"]
