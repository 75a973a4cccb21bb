"""``rsvl demo``: region -> datasets -> training -> evaluation -> report, with the CLI's functions.

Each stage calls the library function behind one CLI command (:func:`equivalent_commands` lists
them), writes into its own folder under the output folder, and is reused when its inputs did
not change (the region by checksum, the builds by their resume markers, the run by its last
checkpoint, the results by file name: model checksum + dataset + task).

Output folder::

    region/        the synthetic region (rsvl region)
    data/          caption dataset: chips, records, shards, Parquet, classification/, retrieval/
    land_cover/    held-out land-cover chips labelled from the class raster (class folders)
    vqa/           RSVQA-layout question set
    train.json     the training config; runs/tiny/ the run; runs/untrained/ its initial weights
    results/       one JSON per evaluation (+ confusion PNGs); results/vqa_heads/
    report.md      trained vs untrained, figures in figures/
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from rsvl.data.atomic import write_json
from rsvl.errors import ConfigError

STAGES = ("region", "datasets", "train", "evaluate", "report")
# Folders the demo owns inside --out; --fresh removes these and nothing else.
OWNED = ("region", "data", "land_cover", "vqa", "runs", "results", "figures", "train.json",
         "report.md", "summary.json")
TRAINED, UNTRAINED = "trained", "untrained"


@cache
def recipe() -> dict[str, Any]:
    """The demo's settings (``rsvl/demo/recipe.json``)."""
    return json.loads(resources.files("rsvl.demo").joinpath("recipe.json").read_text())


@dataclass(frozen=True)
class DemoOptions:
    """What ``rsvl demo`` runs.

    Attributes:
        out: Output folder.
        size_m: Side of the synthetic region, metres.
        seed: Seed of the region, the splits, the captions and the training run.
        processes: Training ranks (``accelerate launch`` when more than 1).
        steps: Training steps (``None``: the recipe's).
        fresh: Delete the demo's previous outputs first.
        workers: Worker processes of the dataset builds.
    """

    out: Path
    size_m: float
    seed: int = 0
    processes: int = 1
    steps: int | None = None
    fresh: bool = False
    workers: int = 1


@dataclass
class DemoPaths:
    """Where each stage writes, under ``out``."""

    out: Path

    def __getattr__(self, name: str) -> Path:
        folders = {"region": "region", "data": "data", "land_cover": "land_cover", "vqa": "vqa",
                   "train_config": "train.json", "run": "runs/tiny",
                   "untrained": "runs/untrained", "results": "results", "figures": "figures",
                   "report": "report.md", "summary": "summary.json"}
        if name not in folders:
            raise AttributeError(name)
        return self.out / folders[name]

    @property
    def export(self) -> Path:
        """The trained model's export folder."""
        return self.run / "export"


@dataclass
class DemoResult:
    """What the demo measured: per-stage seconds, figures, and where the report is."""

    paths: DemoPaths
    seconds: dict[str, float] = field(default_factory=dict)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: Path | None = None


def _stage(result: DemoResult, name: str, say: Callable[[str], None]) -> Callable[[], None]:
    """Announce a stage; the returned callable records its wall time."""
    number = STAGES.index(name) + 1
    say(f"[{number}/{len(STAGES)}] {name}")
    started = time.perf_counter()

    def done() -> None:
        result.seconds[name] = round(time.perf_counter() - started, 1)
        say(f"      {name} done in {result.seconds[name]:.1f} s")

    return done


def run_demo(options: DemoOptions, say: Callable[[str], None] = print) -> DemoResult:
    """Run the whole loop; each stage reuses what an earlier run left when it still matches.

    Args:
        options: Output folder, region size, seed, training processes and steps.
        say: Where progress lines go (progress bars go to stderr).

    Returns:
        Stage times, the trained and untrained figures per task, and the report's path.

    Raises:
        ConfigError, InputError: A setting or an intermediate artifact is wrong (one line).
    """
    from rsvl.demo import stages
    from rsvl.demo.summary import write_demo_report

    if options.processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {options.processes}")
    paths = DemoPaths(options.out)
    if options.fresh:
        for name in OWNED:
            target = options.out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    options.out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(paths)
    started = time.perf_counter()

    done = _stage(result, "region", say)
    region = stages.make_region(options, paths)
    say(f"      {'reused' if region.reused else 'generated'} {region.size_m:g} m region "
        f"({region.width} x {region.height} px) in {paths.region}")
    done()

    done = _stage(result, "datasets", say)
    datasets = stages.build_datasets(options, paths, region)
    for line in datasets.lines:
        say(f"      {line}")
    done()

    done = _stage(result, "train", say)
    stages.train_model(options, paths)
    stages.export_untrained(paths)
    done()

    done = _stage(result, "evaluate", say)
    result.figures = stages.evaluate_models(options, paths, datasets, say)
    done()

    done = _stage(result, "report", say)
    result.seconds["total"] = round(time.perf_counter() - started, 1)
    result.report = write_demo_report(options, paths, datasets, result)
    done()
    write_json(paths.summary, {"seconds": result.seconds, "figures": result.figures,
                               "options": {k: str(v) for k, v in vars(options).items()}})
    return result


def equivalent_commands(options: DemoOptions) -> list[tuple[str, str]]:
    """The CLI command lines that make the demo's artifacts step by step, with what they make.

    Returned as ``(command, what it writes)`` pairs; the report prints them.
    """
    paths = DemoPaths(options.out)
    build = recipe()["build"]
    chip = (f"--osm {paths.region}/region.osm --imagery {paths.region}/orthophoto.tif "
            f"--out {paths.data} --source {build['source']} --licence {build['licence']} "
            f"--chip-size {build['chip_size']} --seed {options.seed} "
            f"--split-cell-m {build['split_cell_m']:g} --split-fractions "
            + " ".join(f"{f:g}" for f in build["split_fractions"]))
    tasks = " ".join(recipe()["classification_tasks"])
    launch = f" --processes {options.processes} --cpu" if options.processes > 1 else ""
    preset = recipe()["zero_shot_preset"]
    eval_common = f"--out {paths.results} --cache-dir {paths.out}/.cache"
    vqa = recipe()["vqa"]
    head = recipe()["vqa_head"]
    land_cover = recipe()["land_cover"]
    lines = [
        (f"rsvl region --out {paths.region} --seed {options.seed} --size-m {options.size_m:g}",
         "region.osm, orthophoto.tif, classes.tif, tiles/, region.json"),
        (f"rsvl build captions {chip}",
         "data/chips, records.jsonl, shards/ (WebDataset), parquet/, manifest.json"),
        (f"rsvl build classification {chip} --tasks {tasks} "
         f"--min-per-class {recipe()['min_per_class']}",
         "data/classification/<task>/<class>/*.jpg (test split)"),
        (f"rsvl build retrieval {chip}", "data/retrieval/dataset.json (Karpathy, test split)"),
        (f"rsvl build land-cover --region {paths.region} --out {paths.land_cover} "
         f"--chip-m {land_cover['chip_m']:g} --chip-px {land_cover['chip_px']} "
         f"--min-share {land_cover['min_share']:g} --min-per-class {recipe()['min_per_class']} "
         f"--splits test --seed {options.seed} --split-cell-m {build['split_cell_m']:g} "
         "--split-fractions " + " ".join(f"{f:g}" for f in build["split_fractions"]),
         "land_cover/<class>/*.jpg (test split grid chips labelled from classes.tif)"),
        (f"rsvl build vqa --osm {paths.region}/region.osm --imagery {paths.region}/"
         f"orthophoto.tif --out {paths.vqa} --name SYNTH --licence {build['licence']} "
         f"--chip-size {vqa['chip_size']} --chip-gsd-factor {vqa['chip_gsd_factor']:g} "
         f"--format {vqa['image_format']} --seed {options.seed} --split-cell-m "
         f"{build['split_cell_m']:g} --split-fractions "
         + " ".join(f"{f:g}" for f in build["split_fractions"]),
         "vqa/SYNTH_split_{train,val,test}_{questions,answers,images}.json, Images_SYNTH/"),
        (f"rsvl train --config {paths.train_config}{launch}",
         "runs/tiny/step_N/, log.jsonl, export/ (safetensors + open_clip config); train.json "
         "is the recipe's training section (rsvl/demo/recipe.json) with this folder's paths"),
        (f"rsvl eval zeroshot --model {paths.export} --dataset {paths.land_cover} "
         f"--preset {preset} {eval_common}", "results/land_cover__all__export-*.json + PNG"),
        (f"rsvl eval zeroshot --model {paths.export} --dataset "
         f"{paths.data}/classification/roof_shape --preset {preset} {eval_common}",
         "results/roof_shape__all__export-*.json + PNG"),
        (f"rsvl eval retrieval --model {paths.export} --dataset "
         f"{paths.data}/retrieval/dataset.json {eval_common}",
         "results/retrieval__test__export-*__retrieval.json"),
        (f"rsvl eval vqa --model {paths.export} --data {paths.vqa} --split test --method head "
         f"--train-split train --hidden {head['hidden']} --epochs {head['epochs']} "
         f"--head-batch-size {head['batch_size']} --head-lr {head['lr']:g} "
         f"--save-head {paths.results}/vqa_heads/trained {eval_common}",
         "results/vqa__test__export-*__vqa-head.json (OA, AA, majority OA)"),
        (f"# the untrained baseline: the same commands with --model {paths.untrained} "
         "(the run's seeded initial weights, exported by rsvl demo)",
         "results/*__untrained-*__*.json"),
        (f"rsvl search build --model {paths.export} --from {paths.land_cover} "
         f"--out {paths.out}/search.index", "an image index of the held-out land-cover chips"),
        (f"rsvl search query {paths.out}/search.index "
         f"\"{recipe()['search_queries'][0]}\" -k 10 --grid {paths.figures}/search.png",
         "the ten best chips, as a grid PNG"),
        (f"rsvl report {paths.results}", "results/report.md and CSV tables"),
    ]
    return lines

