"""``rsvl eval``: zero-shot, retrieval, linear probe, k-NN, VQA, segmentation, or a suite of
them; one JSON each, all through :mod:`rsvl.evaluation.runner`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from rsvl.errors import ConfigError

HELP = "evaluate a model: zero-shot classification, retrieval, linear probe, k-NN, VQA, suites"
TASK_HELP = {
    "zeroshot": "zero-shot scene classification (acc1, acc5, mean per-class recall, confusion)",
    "retrieval": "text-image retrieval (R@1/5/10 both ways, mean recall)",
    "linear-probe": "logistic regression on frozen image features (seeded split, few-shot k)",
    "knn": "k-nearest-neighbour classification on frozen image features",
    "vqa": "VQA on the RSVQA layout: zero-shot CLIP or a trained fusion head (OA, AA, per type; "
           "majority, per-type majority and question-only baselines)",
    "segmentation": "open-vocabulary localisation: patch-text similarity maps against masks "
                    "(mIoU, pixel accuracy) of a region folder's classes.tif or a caption "
                    "build's region-text pairs",
}
# HeadRecipe field -> (flag, help, type); the defaults live in the dataclass only.
HEAD_FLAGS: dict[str, tuple[str, str, type]] = {
    "hidden": ("--hidden", "fusion width", int),
    "top_answers": ("--top-answers", "answer vocabulary size", int),
    "epochs": ("--epochs", "training epochs per stage", int),
    "batch_size": ("--head-batch-size", "questions per step", int),
    "lr": ("--head-lr", "peak learning rate", float),
    "val_fraction": ("--val-fraction", "share of the training images held out to decide "
                     "whether the image helps", float),
    "patience": ("--patience", "image-stage epochs without held-out gain before stopping", int),
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model spec: rsvl-tiny, ARCH:TAG, "
                        "ARCH:PATH, an rsvl export folder or hf-hub:ID")
    parser.add_argument("--root", help="folder holding a registered dataset (or its parent); "
                        "default $RSVL_DATA_DIR/<dataset folder>")
    parser.add_argument("--out", default="results", help="results folder (default: results/)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per encoder batch")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="image-decoding worker processes")
    parser.add_argument("--cache-dir", default=".rsvl-cache",
                        help="image-feature cache folder (default: .rsvl-cache)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first unreadable image (default: skip and count it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute results that already exist (default: keep them)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="score a registered benchmark that has fewer images than its "
                        "release (recorded in the result; default: refuse)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Nested sub-commands: one per task, plus ``suite``."""
    sub = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for task, text in TASK_HELP.items():
        task_parser = sub.add_parser(task, help=text, description=text)
        _common(task_parser)
        if task == "vqa":
            _vqa_arguments(task_parser)
        else:
            task_parser.add_argument("--dataset", required=True,
                                     help="registered name (see `rsvl eval list`), folder or file")
        if task == "zeroshot":
            task_parser.add_argument("--preset", default="rsvl",
                                     help="rsvl, skyscript, remoteclip, rs5m or clip_benchmark")
            task_parser.add_argument("--templates", help="template set name or JSON file "
                                     "(overrides the preset's)")
        if task == "retrieval":
            task_parser.add_argument("--split", default="test", help="split to evaluate "
                                     "(default: test; 'all' for every image)")
        if task in ("linear-probe", "knn"):
            task_parser.add_argument("--k-shot", type=int, help="training images per class")
            task_parser.add_argument("--seed", type=int, default=0, help="split seed")
        if task == "segmentation":
            task_parser.add_argument("--preset", default="rsvl", help="prompt preset")
            task_parser.add_argument("--templates", help="template set name or JSON file")
            task_parser.add_argument("--split", default="test", help="split of the chips "
                                     "(default: test; 'all' for every chip)")
            task_parser.add_argument("--chip-m", type=float, help="region folder: grid chip "
                                     "side in metres (default 96)")
            task_parser.add_argument("--cell-m", type=float, help="region folder: split cell "
                                     "side in metres (default: automatic, as caption builds)")
            task_parser.add_argument("--split-fractions", type=float, nargs="+",
                                     metavar="F", help="region folder: train/val/test "
                                     "fractions of the split cells (default: the caption "
                                     "builds' 0.8 0.1 0.1)")
            task_parser.add_argument("--seed", type=int, default=0, help="split seed")
            task_parser.add_argument("--exclude-training", metavar="DATASET",
                                     help="region folder: the caption build the model trained "
                                     "on; chips sharing pixels with its training chips are "
                                     "left out")
        if task == "knn":
            task_parser.add_argument("--k", type=int, default=20, help="neighbours")
    suite = sub.add_parser("suite", help="run a suite file (eval/suites/*.json)")
    _common(suite)
    suite.add_argument("--suite", required=True, help="suite JSON file")
    sub.add_parser("list", help="list registered datasets, template sets and presets")


def _vqa_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", help="RSVQA-layout folder (*_split_*_*.json) (required)")
    parser.add_argument("--data", dest="dataset", help=argparse.SUPPRESS)  # the old name
    parser.add_argument("--split", default="test",
                        help="split to evaluate (default: test, or the only one)")
    parser.add_argument("--prefix", help="file prefix (LR, USGS, OSM...) when several")
    parser.add_argument("--method", choices=("zero-shot", "head"), default="zero-shot")
    parser.add_argument("--train-split", help="training split: baselines, zero-shot "
                        "candidates, and the head's training data when --head is not given")
    parser.add_argument("--head", help="folder of a trained head (vqa_head.json) to evaluate")
    parser.add_argument("--save-head", help="folder to save the head trained here")
    parser.add_argument("--seed", type=int, default=0, help="head seed")
    parser.add_argument("--bin-counts", action="store_true",
                        help="score count answers by their RSVQA-LR bins")
    # Unset flags keep HeadRecipe's defaults (importing it here would load torch for --help).
    recipe = parser.add_argument_group(
        "head recipe", "how the head and the question-only baseline train (defaults: "
        "rsvl.evaluation.vqa.HeadRecipe; its docstring says what each one does)")
    for name, (flag, text, kind) in HEAD_FLAGS.items():
        recipe.add_argument(flag, dest=f"head_{name}", type=kind, help=text)


def _request_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The EvalRequest fields a task's flags set."""
    fields = ("preset", "templates", "split", "k_shot", "seed", "k", "allow_partial", "method",
              "train_split", "prefix", "bin_counts", "head", "save_head")
    extra = {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}
    if args.task == "vqa":
        from rsvl.evaluation.vqa.head import HeadRecipe

        if not args.dataset:
            raise ConfigError("rsvl eval vqa needs --dataset FOLDER (an RSVQA-layout folder)")
        given = {name: getattr(args, f"head_{name}") for name in HEAD_FLAGS}
        extra["vqa_head"] = HeadRecipe(**{k: v for k, v in given.items() if v is not None})
    return extra


def _region_mask_set(args: argparse.Namespace) -> str:
    """The dataset to evaluate: for segmentation on a region folder, its mask set (cut into
    ``--cache-dir``: the result's fingerprint covers its pixels, so the folder is only a cache)."""
    import hashlib
    from pathlib import Path

    folder = Path(args.dataset or "")
    if args.task != "segmentation" or not (folder / "region.json").is_file():
        return str(args.dataset)
    from rsvl.builders.segmentation_sets import write_region_mask_set
    from rsvl.builders.splits import SplitRule

    chip_m = args.chip_m or 96.0
    rule = SplitRule(cell_m=args.cell_m, fractions=tuple(args.split_fractions or
                                                         SplitRule().fractions))
    cell = f"cell{args.cell_m:g}" if args.cell_m else "auto"
    fractions = "_".join(f"{f:g}" for f in rule.fractions)
    excluded = ("" if not args.exclude_training else "-without-" + hashlib.sha256(
        str(Path(args.exclude_training).resolve()).encode()).hexdigest()[:12])
    out = Path(args.cache_dir) / "segmentation" / (
        f"{folder.resolve().name}-{chip_m:g}m-{cell}-f{fractions}-seed{args.seed}-{args.split}"
        f"{excluded}")
    if args.split != "all" and not args.exclude_training:
        print(f"rsvl eval: warning: {args.split} chips of {folder} may share pixels with the "
              "chips a model trained on (a training chip reaches into the cells beside it); "
              "give --exclude-training CAPTIONS_DIR, the caption build it trained on, to leave "
              "them out", file=sys.stderr)
    write_region_mask_set(folder, out, args.split, chip_m=chip_m, rule=rule, seed=args.seed,
                          exclude_training=args.exclude_training)
    return str(out)


def _list() -> int:
    from rsvl.evaluation import get_benchmark, list_benchmarks, list_presets, list_template_sets

    for name in list_benchmarks():
        benchmark = get_benchmark(name)
        print(f"{name:16} {benchmark.task:14} {benchmark.title}  <{benchmark.url}>")
    print(f"template sets: {', '.join(list_template_sets())}")
    print(f"presets: {', '.join(list_presets())}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Load the model once, run the task(s), print one line per result."""
    if args.task == "list":
        return _list()
    from dataclasses import replace

    from rsvl.evaluation.features import FeatureOptions
    from rsvl.evaluation.runner import (
        EvalRequest,
        read_suite,
        run_evaluation,
        run_requests,
        suite_requests,
    )
    from rsvl.models import load_clip

    options = FeatureOptions(batch_size=args.batch_size, num_workers=args.workers,
                             cache_dir=None if args.no_cache else args.cache_dir,
                             strict=args.strict)
    if args.task == "suite":
        requests = [replace(r, allow_partial=args.allow_partial)
                    for r in suite_requests(read_suite(args.suite), args.root)]
    else:
        requests = [EvalRequest(task=args.task, dataset=_region_mask_set(args), root=args.root,
                                **_request_fields(args))]
    loaded = load_clip(args.model, device=args.device)
    if args.task != "suite":
        path, result = run_evaluation(loaded, requests[0], args.out, options,
                                      overwrite=args.overwrite, command=sys.argv)
        print(_summary(path, result), file=sys.stderr)
        print(path)
        return 0
    written = run_requests(loaded, requests, args.out, options, overwrite=args.overwrite,
                           report=lambda line: print(line, file=sys.stderr))
    for path in written:
        print(path)
    return 0 if written else 2


def _summary(path: object, result: dict | None) -> str:
    if result is None:
        return f"kept existing result {path} (pass --overwrite to recompute)"
    if result["task"].startswith("vqa"):
        return _vqa_summary(result)
    scalars = {k: v for k, v in result["metrics"].items() if isinstance(v, float)}
    shown = " ".join(f"{k}={v:.4f}" for k, v in scalars.items())
    complete = result.get("completeness") or {}
    partial = (f"; PARTIAL: {complete['found_images']} of {complete['expected_images']} images"
               if complete.get("partial") else "")
    return (f"{result['task']} {result['dataset']} ({result['num_images']} images, "
            f"{result['num_skipped']} unreadable skipped{partial}): {shown}")


def _vqa_summary(result: dict) -> str:
    metrics = result["metrics"]
    per_type = " ".join(f"{t}={a:.4f}" for t, a in metrics["per_type_accuracy"].items())
    blind = metrics.get("question_only_oa")
    return (f"{result['task']} {result['dataset']}/{result['split']} ({metrics['num_questions']} "
            f"questions): OA={metrics['oa']:.4f} AA={metrics['aa']:.4f} {per_type}; majority "
            f"OA={metrics['majority_oa']:.4f} (per type {metrics['majority_per_type_oa']:.4f}, "
            f"question-only {'-' if blind is None else f'{blind:.4f}'})")


__all__ = ["HELP", "add_arguments", "run"]
