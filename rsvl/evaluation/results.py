"""Result files: one flat JSON per (dataset, split, model, task), written atomically.

Every result records what produced it: model spec, checkpoint sha256, protocol (templates,
class names, preprocessing, split rule), number of images and the unreadable ones skipped,
rsvl version and time. :mod:`rsvl.evaluation.report` builds tables from a folder of them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rsvl import __version__
from rsvl.data.atomic import write_json
from rsvl.errors import InputError
from rsvl.evaluation.plots import plot_confusion_matrix
from rsvl.models import LoadedModel

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def make_result(
    outcome: Mapping[str, Any],
    loaded: LoadedModel,
    *,
    preset: str | None = None,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The result record of an evaluator's outcome (``zero_shot_classify`` and friends)."""
    dataset = outcome["dataset"]
    skipped = list(outcome.get("skipped_images", []))
    result = {
        "task": outcome["task"],
        "dataset": dataset["name"],
        "split": dataset["split"],
        "dataset_path": dataset["path"],
        "layout": dataset["layout"],
        "model": str(loaded.spec),
        "model_arch": loaded.arch,
        "checkpoint_sha256": loaded.checksum,
        "preset": preset,
        "protocol": {**outcome["protocol"], "preprocess": loaded.preprocess_cfg},
        "num_images": outcome["num_images"],
        "num_skipped": len(skipped),
        "skipped_images": skipped,
        "metrics": outcome["metrics"],
        "rsvl_version": __version__,
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": list(command) if command else None,
    }
    result |= {k: outcome[k] for k in ("num_captions",) if k in outcome}
    return _jsonable(result)


def result_stem(task: str, dataset: str, split: str, model: str, checksum: str,
                preset: str | None = None, variant: str | None = None) -> str:
    """File stem ``dataset__split__model-sha8__task[-preset][-variant]``."""
    model_part = _UNSAFE.sub("-", Path(model.rstrip("/")).name or model)[:60]
    suffix = "".join(f"-{_UNSAFE.sub('-', s)}" for s in (preset, variant) if s)
    return f"{dataset}__{split}__{model_part}-{checksum[:8]}__{task}{suffix}"


def result_path(out_dir: str | Path, result: Mapping[str, Any]) -> Path:
    """Where ``result`` is written under ``out_dir``."""
    k_shot = result["protocol"].get("k_shot")
    stem = result_stem(result["task"], result["dataset"], result["split"], result["model"],
                       result["checkpoint_sha256"], result.get("preset"),
                       f"{k_shot}shot" if k_shot else None)
    return Path(out_dir) / f"{stem}.json"


def write_result(out_dir: str | Path, result: Mapping[str, Any]) -> Path:
    """Write ``result`` (and its confusion-matrix PNG, when it has one) under ``out_dir``."""
    path = result_path(out_dir, result)
    write_json(path, result)
    confusion = result["metrics"].get("confusion_matrix")
    if confusion:
        names = list(result["metrics"]["per_class_accuracy"])
        title = f"{result['task']} {result['dataset']} / {result['model']}"
        plot_confusion_matrix(confusion, names, path.with_suffix(".png"), title)
    return path


def read_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every result JSON under ``folder`` (recursively); other JSON files are ignored."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"results folder {folder} not found; run `rsvl eval ... --out {folder}`")
    results = []
    for path in sorted(folder.rglob("*.json")):
        try:
            payload = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path} is not valid JSON ({error}); delete or fix it") from None
        if isinstance(payload, dict) and {"task", "dataset", "metrics", "model"} <= set(payload):
            results.append(payload)
    return results
