"""``rsvl eval``: zero-shot, retrieval, linear probe, k-NN, or a suite of them; one JSON each."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

HELP = "evaluate a model: zero-shot classification, retrieval, linear probe, k-NN, suites"
TASK_HELP = {
    "zeroshot": "zero-shot scene classification (acc1, acc5, mean per-class recall, confusion)",
    "retrieval": "text-image retrieval (R@1/5/10 both ways, mean recall)",
    "linear-probe": "logistic regression on frozen image features (seeded split, few-shot k)",
    "knn": "k-nearest-neighbour classification on frozen image features",
}
# Tasks whose options and runner live in another module (HELP, add_arguments, run).
DELEGATED_TASKS = {"vqa": "rsvl.cli.eval_vqa"}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model spec: rsvl-tiny, ARCH:TAG, "
                        "ARCH:PATH, an rsvl export folder or hf-hub:ID")
    parser.add_argument("--root", help="folder holding a registered dataset (or its parent); "
                        "default $RSVL_DATA_DIR/<dataset folder>")
    parser.add_argument("--out", default="results", help="results folder (default: results/)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="image-decoding worker processes")
    parser.add_argument("--cache-dir", default=".rsvl-cache",
                        help="image-feature cache folder (default: .rsvl-cache)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first unreadable image (default: skip and count it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute results that already exist (default: keep them)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Nested sub-commands: one per task, plus ``suite``."""
    sub = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for task, text in TASK_HELP.items():
        task_parser = sub.add_parser(task, help=text, description=text)
        _common(task_parser)
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
        if task == "knn":
            task_parser.add_argument("--k", type=int, default=20, help="neighbours")
    for task, module_name in DELEGATED_TASKS.items():
        module = importlib.import_module(module_name)
        delegated = sub.add_parser(task, help=module.HELP, description=module.HELP)
        module.add_arguments(delegated)
    suite = sub.add_parser("suite", help="run a suite file (eval/suites/*.json)")
    _common(suite)
    suite.add_argument("--suite", required=True, help="suite JSON file")
    sub.add_parser("list", help="list registered datasets, template sets and presets")


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
    if args.task in DELEGATED_TASKS:
        return int(importlib.import_module(DELEGATED_TASKS[args.task]).run(args))
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
        requests = suite_requests(read_suite(args.suite), args.root)
    else:
        fields = ("preset", "templates", "split", "k_shot", "seed", "k")
        extra = {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}
        requests = [EvalRequest(task=args.task, dataset=args.dataset, root=args.root, **extra)]
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
    scalars = {k: v for k, v in result["metrics"].items() if isinstance(v, float)}
    shown = " ".join(f"{k}={v:.4f}" for k, v in scalars.items())
    return (f"{result['task']} {result['dataset']} ({result['num_images']} images, "
            f"{result['num_skipped']} unreadable skipped): {shown}")


__all__ = ["HELP", "add_arguments", "run"]
