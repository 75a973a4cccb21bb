"""The demo's stages, each a call of the library function behind one CLI command."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rsvl.data.atomic import write_json
from rsvl.demo.layout import TRAINED, UNTRAINED, DemoOptions, DemoPaths, recipe
from rsvl.errors import InputError
from rsvl.synth import RegionInfo


@dataclass
class Datasets:
    """The evaluation sets the build produced and a few lines describing them.

    Attributes:
        zero_shot: Task name -> class-folder root (land cover first, then OSM attributes).
        retrieval: The Karpathy JSON of the held-out split.
        segmentation: The held-out localisation mask set (``classes.tif`` over the test cells).
        vqa: The RSVQA-layout folder.
        train_chips: Training chips in the caption shards.
        lines: Human-readable summary lines.
    """

    zero_shot: dict[str, Path] = field(default_factory=dict)
    retrieval: Path | None = None
    segmentation: Path | None = None
    vqa: Path | None = None
    train_chips: int = 0
    lines: list[str] = field(default_factory=list)


def make_region(options: DemoOptions, paths: DemoPaths) -> RegionInfo:
    """``rsvl region``: generate the synthetic region, or reuse it when unchanged."""
    from rsvl.synth import generate_region

    return generate_region(paths.region, seed=options.seed, size_m=options.size_m)


def build_datasets(options: DemoOptions, paths: DemoPaths, region: RegionInfo) -> Datasets:
    """``rsvl build captions|classification|retrieval|vqa``, the land-cover set and the
    localisation mask set."""
    from rsvl.builders.benchmark_sets import write_classification_sets, write_retrieval_set
    from rsvl.builders.captions import CaptionBuildConfig, build_captions
    from rsvl.builders.chips import ChipRule
    from rsvl.builders.land_cover import LandCoverRule, write_land_cover_set
    from rsvl.builders.segmentation_sets import write_region_mask_set
    from rsvl.builders.splits import SplitRule
    from rsvl.builders.vqa import VqaBuildConfig, build_vqa

    settings = recipe()["build"]
    split = SplitRule(cell_m=settings["split_cell_m"], fractions=tuple(settings["split_fractions"]))
    common = {"osm": str(region.osm_path), "imagery": str(region.orthophoto_path),
              "licence": settings["licence"], "seed": options.seed,
              "split": split,
              "workers": options.workers}
    captions = build_captions(CaptionBuildConfig(
        out=str(paths.data), source=settings["source"],
        rule=ChipRule(chip_size=settings["chip_size"]),
        captions_per_chip=settings["captions_per_chip"], **common,
    ), command=["rsvl", "demo"])
    datasets = Datasets(train_chips=sum(r.split == "train" for r in captions.records))
    datasets.lines.append(captions.summary().replace("\n", "; "))

    min_per_class = recipe()["min_per_class"]
    # The evaluation sets cut from the same ground leave out the held-out chips that share
    # pixels with a training caption chip (one framed on a large object reaches into the
    # test cells next to it).
    seen = str(captions.root)
    land_cover = write_land_cover_set(region, paths.land_cover, LandCoverRule(
        **recipe()["land_cover"], min_per_class=min_per_class, splits=("test",),
        split=split, seed=options.seed, exclude_training=seen))
    datasets.lines.append(f"land cover (test): {_classes(land_cover.classes)}")
    if len(land_cover.classes) >= 2:  # zero-shot needs at least two classes to choose from
        datasets.zero_shot["land_cover"] = paths.land_cover
    # The mask set `rsvl eval segmentation --dataset REGION` cuts, with the caption build's cells.
    masks = write_region_mask_set(region.out_dir, paths.segmentation, "test",
                                  chip_m=recipe()["segmentation"]["chip_m"], rule=split,
                                  seed=options.seed, exclude_training=seen)
    if masks["chips"]:
        datasets.segmentation = paths.segmentation
    datasets.lines.append(f"localisation masks (test): {len(masks['chips'])} chips of "
                          f"{masks['details']['chip_m']:g} m, {len(masks['classes'])} classes "
                          "from classes.tif")
    for made in write_classification_sets(captions.root, captions.records,
                                          recipe()["classification_tasks"], min_per_class,
                                          ["test"]):
        datasets.lines.append(f"{made.task} (test): {_classes(made.classes)}")
        if len(made.classes) >= 2:
            datasets.zero_shot[made.task] = made.folder
    datasets.retrieval = write_retrieval_set(captions.root, captions.records, "test")
    datasets.lines.append(f"retrieval (test): {sum(r.split == 'test' for r in captions.records)} "
                          "images")
    vqa = build_vqa(VqaBuildConfig(out=str(paths.vqa), name="SYNTH", **recipe()["vqa"],
                                   exclude_training=seen, **common), command=["rsvl", "demo"])
    datasets.vqa = vqa.root
    datasets.lines.append("vqa: " + vqa.summary().replace("\n", "; "))
    return datasets


def _classes(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "no class kept"


def write_train_config(options: DemoOptions, paths: DemoPaths) -> dict[str, Any]:
    """Write ``train.json``: the recipe's config pointed at this demo's shards and run folder."""
    config = json.loads(json.dumps(recipe()["train"]))
    config["data"]["train"] = str(paths.data / "shards")
    config["run"]["out_dir"] = str(paths.run)
    config["run"]["seed"] = options.seed
    if options.steps is not None:
        config["run"]["max_steps"] = options.steps
    write_json(paths.train_config, config)
    return config


def train_model(options: DemoOptions, paths: DemoPaths) -> None:
    """``rsvl train --config train.json [--processes N --cpu]``, skipped when already exported."""
    from rsvl.models import read_export_info
    from rsvl.training.config import load_config
    from rsvl.training.launch import run_training

    write_train_config(options, paths)
    config = load_config(paths.train_config).to_dict()
    if paths.export.is_dir():
        provenance = read_export_info(paths.export).get("provenance", {})
        if provenance.get("config") == config:
            return
    code = run_training(str(paths.train_config), processes=options.processes,
                        cpu=options.processes > 1)
    if code != 0 or not paths.export.is_dir():
        raise InputError(f"training exited with status {code} and no export in {paths.export}; "
                         "see its messages above")


def export_untrained(paths: DemoPaths) -> Path:
    """Export the run's initial weights (same architecture, same seeded init) as the baseline.

    ``load_clip`` initialises a from-scratch model from the run's seed, as the trainer loads it,
    so this rebuilds the run's exact starting point; the trained export records its checksum
    (``parent_sha256``), which this checks.
    """
    from rsvl.models import export_model, load_clip, read_export_info
    from rsvl.training.config import load_config

    config = load_config(paths.train_config)
    loaded = load_clip(config.model.spec, device="cpu", seed=config.run.seed,
                       context_length=config.model.context_length)
    parent = read_export_info(paths.export).get("provenance", {}).get("parent_sha256")
    if parent is not None and parent != loaded.checksum:
        raise InputError(f"the untrained baseline {loaded.checksum[:8]} differs from the run's "
                         f"initial weights {parent[:8]}; rerun with --fresh")
    if loaded.arch is None:
        raise InputError(f"model {config.model.spec}: unknown architecture, cannot export")
    if read_export_info(paths.untrained).get("sha256") == loaded.checksum:
        return paths.untrained
    return export_model(loaded.model, loaded.arch, paths.untrained,
                        {"parent": config.model.spec, "steps": 0,
                         "note": "initial weights of the demo's training run"})


def evaluate_models(options: DemoOptions, paths: DemoPaths, datasets: Datasets,
                    say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """``rsvl eval`` for both models on every held-out set (VQA: the fusion head and its
    question-only baseline); the figures."""
    from rsvl.evaluation.features import FeatureOptions
    from rsvl.evaluation.runner import EvalRequest, run_evaluation
    from rsvl.evaluation.vqa import HeadRecipe
    from rsvl.models import load_clip

    features = FeatureOptions(cache_dir=paths.out / ".cache")
    preset = recipe()["zero_shot_preset"]
    requests = {f"zero-shot {task}": EvalRequest("zeroshot", str(folder), preset=preset)
                for task, folder in datasets.zero_shot.items()}
    if datasets.retrieval is not None:
        requests["retrieval"] = EvalRequest("retrieval", str(datasets.retrieval), split="test")
    if datasets.segmentation is not None:
        requests["localisation"] = EvalRequest("segmentation", str(datasets.segmentation),
                                               split="test", preset=preset)
    if datasets.vqa is not None:
        requests["vqa"] = EvalRequest("vqa", str(datasets.vqa), split="test", method="head",
                                      train_split="train",
                                      vqa_head=HeadRecipe(**recipe()["vqa_head"]))
    figures: dict[str, dict[str, Any]] = {}
    for name, folder in ((TRAINED, paths.export), (UNTRAINED, paths.untrained)):
        loaded = load_clip(str(folder), device="cpu")
        for label, request in requests.items():
            if request.task == "vqa":
                request = replace(request, save_head=str(paths.results / "vqa_heads" / name))
            path, result = run_evaluation(loaded, request, paths.results, features,
                                          command=["rsvl", "demo"])
            result = result or json.loads(path.read_text())
            for row, (describe, value) in _rows(label, request.task, result).items():
                entry = figures.setdefault(row, describe)
                entry[name] = value
                entry[f"{name}_file"] = str(path)
        say(f"      {name}: " + ", ".join(f"{label} {entry[name]:.3f}"
                                           for label, entry in figures.items()))
    return figures


def _rows(label: str, task: str, result: dict[str, Any]
          ) -> dict[str, tuple[dict[str, Any], float]]:
    """The figure rows of one result: ``row -> (description, value)``; VQA gives two, the
    head and its question-only baseline (the bar a trained model must beat), localisation two,
    mIoU and pixel accuracy."""
    metrics = result["metrics"]
    if task == "segmentation":
        from rsvl.evaluation.segmentation import segmentation_baselines

        # From the stored pixel counts, so a result written before the baselines still has them.
        base = segmentation_baselines(metrics["pixel_confusion"])
        classes = len(metrics["pixel_confusion"])
        common = {"images": result["num_images"], "pixels": metrics["num_pixels"]}
        return {
            f"{label} mIoU": ({"metric": "mIoU (argmax of patch-text similarity per pixel)",
                               "chance": base["chance_miou"],
                               "chance_label": f"random of {classes} classes",
                               "majority": base["majority_miou"], **common}, metrics["miou"]),
            f"{label} pixel acc.": ({"metric": "pixel accuracy",
                                     "chance": base["chance_pixel_accuracy"],
                                     "chance_label": f"1 / {classes} classes",
                                     "majority": base["majority_pixel_accuracy"], **common},
                                    metrics["pixel_accuracy"]),
        }
    if task != "vqa":
        return {label: (_describe(task, result), _headline(task, result))}
    describe = {"metric": "overall accuracy (OA)", "chance": metrics["majority_oa"],
                "chance_label": "majority answer",
                "majority": metrics["majority_per_type_oa"]}  # each question type's majority
    return {label: (dict(describe), metrics["oa"]),
            f"{label} question-only": (dict(describe), metrics["question_only_oa"])}


def _describe(task: str, result: dict[str, Any]) -> dict[str, Any]:
    """The metric shown for a task and its chance level."""
    if task == "retrieval":
        return {"metric": "mean recall (R@1/5/10 both ways, x100)",
                "chance": retrieval_chance(result), "chance_label": "random ranking"}
    classes = len(result["metrics"]["per_class_accuracy"])
    # Always answering the largest class scores its share: the bar for imbalanced sets.
    per_class = [sum(row) for row in result["metrics"]["confusion_matrix"]]
    return {"metric": "top-1 accuracy", "chance": 1 / classes,
            "chance_label": f"1 / {classes} classes", "images": result["num_images"],
            "majority": max(per_class) / max(1, sum(per_class))}


def _headline(task: str, result: dict[str, Any]) -> float:
    return float(result["metrics"]["mean_recall" if task == "retrieval" else "acc1"])


def retrieval_chance(result: dict[str, Any]) -> float:
    """Expected mean recall of a random ranking for this result's image and caption counts.

    Text to image: one right image among N, so R@k = k / N. Image to text: with c of the M
    captions right, R@k = 1 - C(M - c, k) / C(M, k); c is taken as the mean captions per image.
    """
    images, captions = result["num_images"], result.get("num_captions", result["num_images"])
    per_image = max(1, round(captions / max(images, 1)))
    recalls = []
    for k in (1, 5, 10):
        recalls.append(min(1.0, k / images))
        miss = math.comb(captions - per_image, k) / math.comb(captions, k) if captions >= k else 0
        recalls.append(1 - miss)
    return 100 * sum(recalls) / len(recalls)
