"""rsvl's zero-shot evaluator against LAION CLIP_benchmark on the same model and images.

Same model (rsvl-tiny, seed 0), same images (../shared/data/whu_rs19_mini, 190 images), same
templates (CLIP_benchmark's RESISC45 set, spelling fixed), same class names and preprocessing,
same batch size and DataLoader workers, fp32 (CLIP_benchmark's amp would mean bf16 on CPU).
Checks that acc1, acc5 and mean per-class recall agree within 1e-6 and prints images/s of
both and their ratio. Needs ``pip install rsvl[bench]`` (clip-benchmark).

    .venv/bin/python bench/eval_vs_clip_benchmark.py [--repeats 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from rsvl.data.atomic import write_json
from rsvl.evaluation import FeatureOptions, get_templates, load_classification, zero_shot_classify
from rsvl.models import load_clip

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RSVL_SHARED_DATA", ROOT.parent / "shared" / "data")) / "whu_rs19_mini"
METRICS = ("acc1", "acc5", "mean_per_class_recall")


def _numpy2_accuracy(output: torch.Tensor, target: torch.Tensor,
                     topk: tuple[int, ...] = (1,)) -> list[float]:
    pred = output.topk(max(topk), 1, True, True)[1].t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum().item() / len(target) for k in topk]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    try:
        from clip_benchmark.metrics import zeroshot_classification
    except ImportError:
        print("clip-benchmark is not installed: pip install 'rsvl[bench]'", file=sys.stderr)
        return 2
    from torchvision.datasets import ImageFolder

    # clip-benchmark 1.6.2's accuracy() calls float() on a 1-element array, a TypeError under
    # NumPy 2; swap in the same computation with .item() so its evaluate() runs unchanged.
    zeroshot_classification.accuracy = _numpy2_accuracy

    torch.manual_seed(0)
    loaded = load_clip("rsvl-tiny", device="cpu")
    dataset = load_classification(DATA)
    templates = get_templates("clip_benchmark_resisc45")
    options = FeatureOptions(batch_size=args.batch_size, num_workers=args.workers)
    folder = ImageFolder(str(DATA), transform=loaded.preprocess)
    assert folder.classes == dataset.classes, "class order differs"
    loader = torch.utils.data.DataLoader(folder, batch_size=args.batch_size,
                                         num_workers=args.workers)

    def run_rsvl() -> dict[str, float]:
        return zero_shot_classify(loaded, dataset, templates, options=options)["metrics"]

    def run_clip_benchmark() -> dict[str, float]:
        return zeroshot_classification.evaluate(loaded.model, loader, loaded.tokenizer,
                                                dataset.classnames, templates, "cpu", amp=False)

    timings: dict[str, list[float]] = {"rsvl": [], "clip_benchmark": []}
    metrics = {}
    for _ in range(args.repeats):  # interleaved so both see the same machine load
        for name, run in (("rsvl", run_rsvl), ("clip_benchmark", run_clip_benchmark)):
            start = time.perf_counter()
            metrics[name] = run()
            timings[name].append(time.perf_counter() - start)
    n = len(dataset.paths)
    speed = {name: n / min(times) for name, times in timings.items()}
    diffs = {m: abs(float(metrics["rsvl"][m]) - float(metrics["clip_benchmark"][m]))
             for m in METRICS}
    agree = all(d < 1e-6 for d in diffs.values())
    for m in METRICS:
        print(f"{m:24} rsvl {metrics['rsvl'][m]:.6f}  clip_benchmark "
              f"{metrics['clip_benchmark'][m]:.6f}  |diff| {diffs[m]:.2e}")
    print(f"images/s: rsvl {speed['rsvl']:.1f}, clip_benchmark {speed['clip_benchmark']:.1f}, "
          f"ratio rsvl/clip_benchmark {speed['rsvl'] / speed['clip_benchmark']:.2f} "
          f"({n} images, best of {args.repeats}, {args.workers} workers)")
    print("metrics agree" if agree else "METRICS DIFFER")
    write_json(ROOT / "bench" / "results" / "eval_vs_clip_benchmark.json", {
        "images": n, "repeats": args.repeats, "workers": args.workers,
        "batch_size": args.batch_size, "templates": templates, "model": "rsvl-tiny (seed 0)",
        "metrics": {k: {m: float(v[m]) for m in METRICS} for k, v in metrics.items()},
        "abs_diff": diffs, "agree": agree, "seconds": timings, "images_per_s": speed,
        "ratio": speed["rsvl"] / speed["clip_benchmark"],
    })
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
