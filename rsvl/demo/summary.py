"""The demo's ``report.md``: trained vs untrained tables, confusion matrix, search grid,
similarity heat map, loss."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rsvl.data.atomic import atomic_open
from rsvl.demo.layout import (
    TRAINED,
    UNTRAINED,
    DemoOptions,
    DemoPaths,
    DemoResult,
    equivalent_commands,
    recipe,
)
from rsvl.demo.stages import Datasets
from rsvl.errors import InputError


def plot_loss(log_file: Path, path: Path) -> Path | None:
    """The training loss per logged step (``log.jsonl``) as a PNG; None when nothing was logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = []
    if log_file.is_file():
        for line in log_file.read_text().splitlines():
            entry = json.loads(line)
            if "loss" in entry and entry.get("step") is not None:
                points.append((entry["step"], entry["loss"]))
    if not points:
        return None
    steps, losses = zip(*sorted(dict(points).items()), strict=True)
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(steps, losses, marker=".")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("contrastive loss")
    axes.set_title("training loss (rsvl-tiny, global batch across ranks)")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return path


def search_grid(export: Path, images: Path, query: str, path: Path) -> Path:
    """Index ``images`` (recursively) with the trained model; save the top 10 for ``query``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rsvl.api import ImageIndex, load_model, show_grid

    model = load_model(str(export), device="cpu")
    results = ImageIndex.from_folder(model, images, progress=False).search(query, k=10)
    figure = show_grid(results)
    figure.suptitle(f"query: {query}", fontsize=10)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
    return path


def similarity_heat_map(export: Path, masks: Path, query: str, classname: str, path: Path,
                        chips: int = 4) -> Path:
    """The trained model's similarity to ``query`` over held-out chips of the mask set.

    The chips are the ``chips`` where ``classname`` covers the share of labelled pixels nearest
    one half (chosen from the masks, not from the model: the class and its surroundings to tell
    apart); the class's true pixels are outlined.

    Raises:
        InputError: ``classname`` is not a class of the mask set.
    """
    import numpy as np

    from rsvl.evaluation.plots import plot_similarity_map
    from rsvl.evaluation.segmentation import load_mask_set, similarity_maps
    from rsvl.evaluation.zeroshot import zero_shot_classifier
    from rsvl.models import load_clip

    dataset = load_mask_set(masks)
    if classname not in dataset.classnames:
        raise InputError(f"heat map class {classname!r} is not in {masks} "
                         f"({', '.join(dataset.classnames)}); fix rsvl/demo/recipe.json")
    value = dataset.classnames.index(classname)
    shares = [float((mask == value).sum()) / max(1, int((mask >= 0).sum()))
              for mask in dataset.masks]
    chosen = np.argsort([abs(share - 0.5) for share in shares], kind="stable")[:chips]
    loaded = load_clip(str(export), device="cpu")
    # The query as it is written: one "template" that is the query itself.
    query_vector = zero_shot_classifier(loaded, [query], ["{c}"])
    images = [dataset.images[i] for i in chosen]
    similarity = [m[0].numpy() for m in similarity_maps(loaded, images, query_vector)]
    return plot_similarity_map(images, similarity, [dataset.masks[i] == value for i in chosen],
                               path, f"query: {query!r}, trained model, {classname} chips")


def majority_text(entry: dict[str, Any]) -> str:
    """The majority-class (or majority-answer) baseline of a task, ``-`` where none applies."""
    return f"{entry['majority']:.3f}" if entry.get("majority") is not None else "-"


def figures_table(figures: dict[str, dict[str, Any]]) -> str:
    """Markdown table: task, metric, chance, majority, untrained, trained, trained / chance."""
    lines = ["| task (held-out split) | metric | chance | majority | untrained | trained "
             "| trained / chance |", "|---|---|---|---|---|---|---|"]
    for task, entry in figures.items():
        ratio = entry[TRAINED] / entry["chance"] if entry["chance"] else float("nan")
        lines.append(f"| {task} | {entry['metric']} | {entry['chance']:.3f} "
                     f"({entry['chance_label']}) | {majority_text(entry)} | "
                     f"{entry[UNTRAINED]:.3f} | **{entry[TRAINED]:.3f}** | {ratio:.1f}x |")
    return "\n".join(lines)


def write_demo_report(options: DemoOptions, paths: DemoPaths, datasets: Datasets,
                      result: DemoResult) -> Path:
    """Write ``report.md`` and its figures; returns the report's path."""
    paths.figures.mkdir(parents=True, exist_ok=True)
    shown: list[str] = []
    land_cover = result.figures.get("zero-shot land_cover", {})
    confusion = Path(land_cover.get(f"{TRAINED}_file", "")).with_suffix(".png")
    if confusion.is_file():
        target = paths.figures / "confusion_land_cover.png"
        shutil.copyfile(confusion, target)
        relative = target.relative_to(paths.out)
        shown.append(f"![land-cover confusion matrix, trained model]({relative})")
    query = recipe()["search_queries"][0]
    if "land_cover" in datasets.zero_shot:
        # The held-out land-cover chips: each result's key names its true class.
        grid = search_grid(paths.export, datasets.zero_shot["land_cover"], query,
                           paths.figures / "search.png")
        shown.append(f"![text-to-image search: {query}]({grid.relative_to(paths.out)})")
    if datasets.segmentation is not None:
        settings = recipe()["segmentation"]
        heat = similarity_heat_map(paths.export, datasets.segmentation,
                                   settings["heat_map_query"], settings["heat_map_class"],
                                   paths.figures / "similarity.png")
        shown.append(f"![similarity to \"{settings['heat_map_query']}\", trained model]"
                     f"({heat.relative_to(paths.out)})")
    loss = plot_loss(paths.run / "log.jsonl", paths.figures / "loss.png")
    if loss is not None:
        shown.append(f"![training loss]({loss.relative_to(paths.out)})")
    seconds = result.seconds
    text = "\n".join([
        "# rsvl demo report", "",
        f"A tiny CLIP (`{recipe()['train']['model']['spec']}`) trained from scratch on "
        f"{datasets.train_chips} OSM-captioned chips of the built-in synthetic region "
        f"(seed {options.seed}, {options.size_m:g} m), with {options.processes} process(es), "
        "evaluated on the spatially held-out test split against the same architecture with the "
        "same initial weights (untrained).", "",
        "## Trained vs untrained", "", figures_table(result.figures), "",
        "Land cover: grid chips labelled with the region's class raster, named by their OSM "
        "phrase; OSM attributes: class folders of the caption build's test chips; zero-shot "
        f"protocol preset `{recipe()['zero_shot_preset']}`. VQA: a fusion head trained on the "
        "frozen model's features (train split), scored on the test split (RSVQA overall "
        "accuracy); its chance column is the majority answer, its majority column each question "
        "type's majority answer, and the question-only row is the same head and recipe trained "
        "with every image replaced by a constant: what the question text alone gives, the bar "
        "the trained model's head must beat. Localisation: open-vocabulary segmentation of the "
        "held-out grid chips (`rsvl eval segmentation`): each pixel takes the class whose text "
        "embedding is most similar to its patch token (upsampled bilinearly), scored against "
        "`classes.tif` as mIoU over the classes present and pixel accuracy; majority is the "
        "largest class predicted everywhere (mIoU = its pixel share / the number of true "
        "classes), chance a uniformly random class per pixel (expected value).", "",
        "## Datasets", "", *[f"- {line}" for line in datasets.lines], "",
        "## Figures", "", *[f"{item}\n" for item in shown],
        "## Time", "", "| stage | seconds |", "|---|---|",
        *[f"| {stage} | {value:.1f} |" for stage, value in seconds.items()], "",
        "## The same, step by step", "", "```bash",
        *[f"{command}\n#   -> {what}" for command, what in equivalent_commands(options)],
        "```", "",
        "Results (one JSON per evaluation) are in `results/`; `rsvl report results` tabulates "
        "them.", "",
    ])
    with atomic_open(paths.report, "w") as handle:
        handle.write(text)
    return paths.report
