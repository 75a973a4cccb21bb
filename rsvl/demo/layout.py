"""What the demo is: its recipe, options, output layout and the CLI lines equivalent to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

# Folders the demo owns inside --out; --fresh removes these and nothing else.
OWNED = ("region", "data", "land_cover", "segmentation", "vqa", "runs", "results", "figures",
         "train.json", "report.md", "summary.json")
TRAINED, UNTRAINED = "trained", "untrained"
# HeadRecipe fields whose `rsvl eval vqa` flag is not the field's name.
_HEAD_FLAG = {"batch_size": "head-batch-size", "lr": "head-lr"}


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


@dataclass(frozen=True)
class DemoPaths:
    """Where each stage writes, under ``out``."""

    out: Path

    @property
    def region(self) -> Path:
        """The synthetic region."""
        return self.out / "region"

    @property
    def data(self) -> Path:
        """The caption dataset."""
        return self.out / "data"

    @property
    def land_cover(self) -> Path:
        """The held-out land-cover set."""
        return self.out / "land_cover"

    @property
    def segmentation(self) -> Path:
        """The held-out localisation mask set."""
        return self.out / "segmentation"

    @property
    def vqa(self) -> Path:
        """The RSVQA-layout question set."""
        return self.out / "vqa"

    @property
    def train_config(self) -> Path:
        """The training config."""
        return self.out / "train.json"

    @property
    def run(self) -> Path:
        """The training run folder."""
        return self.out / "runs/tiny"

    @property
    def untrained(self) -> Path:
        """The untrained baseline's export."""
        return self.out / "runs/untrained"

    @property
    def results(self) -> Path:
        """One JSON per evaluation."""
        return self.out / "results"

    @property
    def figures(self) -> Path:
        """The report's figures."""
        return self.out / "figures"

    @property
    def report(self) -> Path:
        """The report."""
        return self.out / "report.md"

    @property
    def summary(self) -> Path:
        """The figures as JSON."""
        return self.out / "summary.json"

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
    # The recipe's head settings as flags (none: the head's defaults).
    head = "".join(f" --{_HEAD_FLAG.get(k, k.replace('_', '-'))} {v:g}"
                   for k, v in recipe()["vqa_head"].items())
    land_cover = recipe()["land_cover"]
    masks = recipe()["segmentation"]
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
         "--split-fractions " + " ".join(f"{f:g}" for f in build["split_fractions"])
         + f" --exclude-training {paths.data}",
         "land_cover/<class>/*.jpg (test split grid chips labelled from classes.tif, none "
         "sharing a pixel with a training caption chip)"),
        (f"rsvl build vqa --osm {paths.region}/region.osm --imagery {paths.region}/"
         f"orthophoto.tif --out {paths.vqa} --name SYNTH --licence {build['licence']} "
         f"--chip-size {vqa['chip_size']} --chip-gsd-factor {vqa['chip_gsd_factor']:g} "
         f"--format {vqa['image_format']} --seed {options.seed} --split-cell-m "
         f"{build['split_cell_m']:g} --split-fractions "
         + " ".join(f"{f:g}" for f in build["split_fractions"])
         + f" --exclude-training {paths.data}",
         "vqa/SYNTH_split_{train,val,test}_{questions,answers,images}.json, Images_SYNTH/"),
        (f"rsvl train --config {paths.train_config}{launch}",
         "runs/tiny/step_N/, log.jsonl, export/ (safetensors + open_clip config); train.json "
         "is the recipe's training section (rsvl/demo/recipe.json) with this folder's paths"),
        (f"rsvl eval zeroshot --model {paths.export} --dataset {paths.land_cover} "
         f"--preset {preset} {eval_common}", "results/land_cover__all__export-*.json + PNG"),
        (f"rsvl eval zeroshot --model {paths.export} --dataset "
         f"{paths.data}/classification/roof_shape --preset {preset} {eval_common}",
         "results/roof_shape__all__export-*.json + PNG"),
        (f"rsvl eval segmentation --model {paths.export} --dataset {paths.region} --split test "
         f"--chip-m {masks['chip_m']:g} --cell-m {build['split_cell_m']:g} --split-fractions "
         + " ".join(f"{f:g}" for f in build["split_fractions"])
         + f" --seed {options.seed} --exclude-training {paths.data} --preset {preset} "
         f"{eval_common}",
         "results/region-classes__test__export-*__segmentation.json (mIoU, pixel accuracy, "
         "their majority and chance baselines; the mask set cut from classes.tif over the test "
         "cells, as rsvl demo's segmentation/)"),
        (f"rsvl eval retrieval --model {paths.export} --dataset "
         f"{paths.data}/retrieval/dataset.json {eval_common}",
         "results/retrieval__test__export-*__retrieval.json"),
        (f"rsvl eval vqa --model {paths.export} --dataset {paths.vqa} --split test "
         f"--method head --train-split train{head} "
         f"--save-head {paths.results}/vqa_heads/trained {eval_common}",
         "results/vqa__test__export-*__vqa-head*.json (OA, AA; majority, per-type majority "
         "and question-only baselines)"),
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

