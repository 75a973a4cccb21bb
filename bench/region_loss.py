"""Region-level training loss (``loss.region_weight``): what it buys in localisation, what it costs.

On the built-in synthetic region as the demo builds it (3000 m), 64 px chips, 400 m split
cells, 70 % train / 30 % test (the test grid chips sharing a pixel with a training caption chip
left out), ``rsvl-tiny`` is trained from scratch on the train split in four settings, each
with the same seeds, steps and batch size:

- **region off**: the demo's training recipe, short captions (``data.captions=short``);
- **region on**: the same plus ``loss.region_weight=1`` (everything else equal: the data order
  and augmentations are identical, the stream only reads ``regions.json`` as well);
- **mixed captions**: region off, ``data.captions=mixed`` (long descriptions half the time);

plus the **untrained** initial weights of each seed. Every model is scored on the held-out test
split only:

- segmentation mIoU and pixel accuracy (``rsvl eval segmentation``) on (a) the caption build's
  region masks (head nouns, ``background`` elsewhere) and (b) the region's ``classes.tif`` cut
  into 64 m chips with the build's split cells;
- zero-shot top-1 on the land-cover test chips (``rsvl eval zeroshot``, ``skyscript`` preset).

Each table row is the mean (and spread over seeds) of those figures; the majority-class
baselines (the most frequent pixel class everywhere, the most frequent land-cover class for
every chip) are printed beside them. Time per step: the table's column is the median of each
run's own logged step times (``log.jsonl``, every step logged), which a shared machine's load
changes from run to run; the on/off cost is measured apart, in short runs alternated off, on,
on, off (``--timing-rounds``, ``--timing-steps``), each setting keeping its best round.

    PYTHONPATH=. .venv/bin/python bench/region_loss.py                     # 3 seeds x 150 steps
    PYTHONPATH=. .venv/bin/python bench/region_loss.py --seeds 0 --steps 50  # quick look

Work (region, builds, runs, eval results) stays in ``--work`` (default ``runs/region_loss``,
git-ignored) and is reused on a rerun; the table goes to ``bench/results/region_loss.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS: dict[str, list[str]] = {
    "region off": [],
    "region on (weight 1)": ["loss.region_weight=1"],
    "mixed captions (region off)": ["data.captions=mixed"],
}
UNTRAINED = "untrained"
REGION_M, CHIP_PX, CELL_M = 3000, 64, 400.0


def prepare(work: Path) -> dict[str, Path]:
    """Region, caption build, classes.tif mask set and land-cover set (reused when present)."""
    from rsvl.builders.captions import CaptionBuildConfig, build_captions
    from rsvl.builders.chips import ChipRule
    from rsvl.builders.land_cover import LandCoverRule, write_land_cover_set
    from rsvl.builders.segmentation_sets import write_region_mask_set
    from rsvl.builders.splits import SplitRule
    from rsvl.synth import generate_region

    split = SplitRule(cell_m=CELL_M, fractions=(0.7, 0.0, 0.3))
    region = generate_region(work / "region", seed=0, size_m=REGION_M, tiles=False)
    build_captions(CaptionBuildConfig(
        osm=str(region.osm_path), imagery=str(region.orthophoto_path), out=str(work / "data"),
        source="synth", licence="CC0-1.0", rule=ChipRule(chip_size=CHIP_PX),
        captions_per_chip=3, split=split, seed=0,
    ), command=["bench/region_loss.py"])
    paths = {"data": work / "data", "classes": work / "classes_test",
             "land_cover": work / "land_cover"}
    if not (paths["classes"] / "segmentation.json").is_file():
        write_region_mask_set(work / "region", paths["classes"], "test", chip_m=float(CHIP_PX),
                              rule=split, seed=0, exclude_training=paths["data"])
    if not (paths["land_cover"] / "summary.json").is_file():
        write_land_cover_set(region, paths["land_cover"], LandCoverRule(
            chip_m=float(CHIP_PX), chip_px=CHIP_PX, min_share=0.6, min_per_class=10,
            splits=("test",), split=split, seed=0, exclude_training=str(paths["data"])))
    return paths


def train_config(data: Path, out: Path, seed: int, steps: int, batch: int,
                 overrides: list[str]) -> Any:
    """The demo's training recipe for ``steps`` steps of ``batch``, every step logged."""
    from rsvl.demo.layout import recipe
    from rsvl.training.config import load_config

    base = recipe()["train"]
    settings = [f"{section}.{key}={value if isinstance(value, str) else json.dumps(value)}"
                for section, values in base.items() for key, value in values.items()]
    return load_config(None, [*settings, f"data.train={data / 'shards'}", f"run.out_dir={out}",
                              f"run.seed={seed}", f"run.max_steps={steps}",
                              f"data.batch_size={batch}", "run.log_every=1", "run.save_every=0",
                              "run.progress=false", *overrides])


def run_training(config: Any) -> Path:
    """Train unless an export of this exact config exists; the export folder."""
    from rsvl.models import read_export_info
    from rsvl.training.trainer import train

    export = Path(config.run.out_dir) / "export"
    if export.is_dir() and read_export_info(export).get("provenance", {}).get(
            "config") == config.to_dict():
        return export
    started = time.perf_counter()
    train(config)
    print(f"    trained {config.run.out_dir} in {time.perf_counter() - started:.0f} s", flush=True)
    return export


def step_seconds(run_dir: Path) -> float:
    """Median seconds per optimizer step from the run's log (``samples_per_s`` of each step;
    the first two steps, which warm up, excluded)."""
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    speeds = [r for r in rows if "samples_per_s" in r and r["step"] > 2]
    batch = next(r["data.batch_size"] for r in rows if r.get("event") == "start")
    return statistics.median(batch / r["samples_per_s"] for r in speeds)


def alternated_step_times(data: Path, work: Path, batch: int, steps: int, rounds: int
                          ) -> dict[str, float]:
    """Seconds per step, region off and on, in alternated short runs (off, on, on, off, ...)
    so that a load change on a shared machine hits both; each keeps its best round's median."""
    best: dict[str, float] = {}
    for index in range(rounds):
        order = [("region off", []), ("region on (weight 1)", ["loss.region_weight=1"])]
        for label, overrides in order if index % 2 == 0 else order[::-1]:
            out = work / "timing" / f"{label.split(' (')[0].replace(' ', '_')}-{index}"
            shutil.rmtree(out, ignore_errors=True)
            run_training(train_config(data, out, 0, steps, batch,
                                      [*overrides, "run.export=false"]))
            best[label] = min(best.get(label, float("inf")), step_seconds(out))
    return best


def untrained_export(seed: int, out: Path) -> Path:
    """rsvl-tiny's initial weights for ``seed`` (as the trainer initialises them), exported."""
    from rsvl.models import export_model, load_clip

    if (out / "open_clip_config.json").is_file():
        return out
    loaded = load_clip("rsvl-tiny", device="cpu", seed=seed)
    assert loaded.arch is not None
    return export_model(loaded.model, loaded.arch, out, {"parent": "rsvl-tiny", "steps": 0})


def evaluate(model_dir: Path, paths: dict[str, Path], results: Path) -> dict[str, float]:
    """Build-mask and classes.tif segmentation, land-cover zero-shot of one model."""
    from rsvl.evaluation.runner import EvalRequest, run_evaluation
    from rsvl.models import load_clip

    loaded = load_clip(str(model_dir), device="cpu")
    figures: dict[str, float] = {}
    for name, request in (
        ("build", EvalRequest("segmentation", str(paths["data"]), split="test")),
        ("classes", EvalRequest("segmentation", str(paths["classes"]), split="test")),
        ("zeroshot", EvalRequest("zeroshot", str(paths["land_cover"]), preset="skyscript")),
    ):
        path, result = run_evaluation(loaded, request, results, command=["bench/region_loss.py"])
        metrics = (result or json.loads(path.read_text()))["metrics"]
        if name == "zeroshot":
            figures["zeroshot_acc1"] = metrics["acc1"]
        else:
            figures[f"{name}_miou"] = metrics["miou"]
            figures[f"{name}_pixel_acc"] = metrics["pixel_accuracy"]
    return figures


def majority_baselines(paths: dict[str, Path]) -> dict[str, float]:
    """Scores of predicting the most frequent class everywhere (pixels; land-cover chips)."""
    from rsvl.evaluation.datasets import load_classification
    from rsvl.evaluation.segmentation import (
        confusion_matrix,
        load_segmentation,
        segmentation_metrics,
    )

    figures: dict[str, float] = {}
    for name in ("build", "classes"):
        dataset = load_segmentation(paths["data" if name == "build" else name], "test")
        size = len(dataset.classes)
        counts = sum(np.bincount(m[m >= 0].ravel(), minlength=size) for m in dataset.masks)
        majority = int(np.argmax(counts))
        confusion = sum(confusion_matrix(m, np.full_like(m, majority), size)
                        for m in dataset.masks)
        metrics = segmentation_metrics(np.asarray(confusion), dataset.classnames)
        figures[f"{name}_miou"] = metrics["miou"]
        figures[f"{name}_pixel_acc"] = metrics["pixel_accuracy"]
    labels = load_classification(str(paths["land_cover"])).labels
    figures["zeroshot_acc1"] = float(max(np.bincount(labels)) / len(labels))
    return figures


COLUMNS = ("build_miou", "build_pixel_acc", "classes_miou", "classes_pixel_acc", "zeroshot_acc1")


def table(rows: dict[str, list[dict[str, float]]], baselines: dict[str, float],
          step_times: dict[str, list[float]]) -> str:
    """Markdown table: mean ± spread (half the range) over seeds of each figure."""
    head = ("| model | build-mask mIoU | build-mask pixel acc | classes.tif mIoU | "
            "classes.tif pixel acc | zero-shot top-1 | s / step |")
    lines = [head, "|" + "---|" * 7]
    for label, runs in rows.items():
        cells = []
        for column in COLUMNS:
            values = [r[column] for r in runs]
            spread = (max(values) - min(values)) / 2
            cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f}")
        times = step_times.get(label)
        cells.append(f"{statistics.mean(times):.3f}" if times else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| majority class | " + " | ".join(f"{baselines[c]:.3f}" for c in COLUMNS)
                 + " | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--work", type=Path, default=Path("runs/region_loss"))
    parser.add_argument("--timing-steps", type=int, default=40,
                        help="steps of each alternated on/off timing run")
    parser.add_argument("--timing-rounds", type=int, default=4,
                        help="alternated on/off timing rounds (0: skip)")
    parser.add_argument("--prepare-only", action="store_true", help="build the data and stop")
    args = parser.parse_args()

    paths = prepare(args.work)
    if args.prepare_only:
        return
    results = args.work / "results"
    rows: dict[str, list[dict[str, float]]] = {UNTRAINED: []}
    step_times: dict[str, list[float]] = {}
    for seed in args.seeds:
        untrained = untrained_export(seed, args.work / "untrained" / f"seed{seed}")
        rows[UNTRAINED].append(evaluate(untrained, paths, results))
        for label, overrides in SETTINGS.items():
            slug = label.split(" (")[0].replace(" ", "_")
            out = args.work / "runs" / f"{slug}-seed{seed}-{args.steps}x{args.batch}"
            config = train_config(paths["data"], out, seed, args.steps, args.batch, overrides)
            export = run_training(config)
            rows.setdefault(label, []).append(evaluate(export, paths, results))
            step_times.setdefault(label, []).append(step_seconds(out))
            print(f"    seed {seed} {label}: {rows[label][-1]}", flush=True)
    baselines = majority_baselines(paths)
    text = table(rows, baselines, step_times)
    timing = alternated_step_times(paths["data"], args.work, args.batch, args.timing_steps,
                                   args.timing_rounds) if args.timing_rounds else {}
    print(f"\nrsvl-tiny, {args.steps} steps x batch {args.batch}, seeds {args.seeds} "
          "(mean ± half range); test split only\n")
    print(text)
    if timing:
        off, on = timing["region off"], timing["region on (weight 1)"]
        print(f"\nalternated timing ({args.timing_rounds} rounds of {args.timing_steps} steps, "
              f"best round's median): region off {off:.3f} s/step, on {on:.3f} s/step "
              f"({on / off - 1:+.0%})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "region_loss.json").write_text(json.dumps({
        "seeds": args.seeds, "steps": args.steps, "batch": args.batch, "runs": rows,
        "majority": baselines, "seconds_per_step": step_times, "table": text,
        "alternated_seconds_per_step": timing,
    }, indent=2))


if __name__ == "__main__":
    main()
