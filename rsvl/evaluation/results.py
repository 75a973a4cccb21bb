"""Result files: one flat JSON per evaluation, written atomically, named by its identity.

Every result records what produced it: model spec, checkpoint sha256, protocol (templates,
class names, preprocessing, split rule), number of images and the unreadable ones skipped,
rsvl version and time. Its identity is a hash of the whole protocol (request, resolved
templates and class names, seed, k, preprocessing, model checksum, dataset fingerprint and
:data:`PROTOCOL_VERSION`): a result is reused only for the same identity, so a changed protocol
is recomputed. :mod:`rsvl.evaluation.report` builds tables from a folder of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rsvl import __version__
from rsvl.data.atomic import write_json
from rsvl.errors import InputError
from rsvl.evaluation.datasets import dataset_fingerprint, files_fingerprint
from rsvl.evaluation.plots import plot_confusion_matrix
from rsvl.models import LoadedModel

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Bump when a metric's definition changes: results of older versions are then neither reused
# nor reported. 2: retrieval ties broken by torch.topk (CLIP_benchmark), identity-named files.
PROTOCOL_VERSION = 2
IDENTITY_CHARS = 12


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def result_identity(protocol: Mapping[str, Any]) -> str:
    """sha256 of everything that determines a result (any task: a JSON-able mapping).

    Callers pass the request, the resolved protocol details, the model checksum and
    preprocessing and the dataset fingerprint; :data:`PROTOCOL_VERSION` is added here.
    """
    payload = json.dumps({"protocol_version": PROTOCOL_VERSION, **protocol}, sort_keys=True,
                         default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _named_files(values: Mapping[str, Any]) -> dict[str, str]:
    """Content of the files (sha256) and folders (file stamps) that string values name."""
    named = {}
    for key, value in values.items():
        path = Path(value) if isinstance(value, str) and value else None
        if path is not None and path.is_file():
            named[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path is not None and path.is_dir():
            named[key] = files_fingerprint(sorted(p for p in path.rglob("*") if p.is_file()))
    return named


def request_identity(protocol: Mapping[str, Any], dataset: Any, loaded: LoadedModel,
                     resolved: Mapping[str, Any] | None = None) -> str:
    """Identity of the result a request gives (any task; computed before evaluating).

    Args:
        protocol: The request fields that decide the result (``runner.request_protocol``);
            files and folders they name count by content.
        dataset: The loaded dataset: its class names and fingerprint (``dataset.fingerprint()``
            when it has one, else :func:`rsvl.evaluation.datasets.dataset_fingerprint`).
        loaded: The model: weights checksum and preprocessing.
        resolved: What the task resolves the request to (e.g. the templates of a named set).
    """
    own = getattr(dataset, "fingerprint", None)
    return result_identity({
        "request": dict(protocol),
        "request_files": _named_files(protocol),
        "resolved": dict(resolved or {}),
        "class_names": getattr(dataset, "classnames", None),
        "dataset": {"name": dataset.name, "split": dataset.split,
                    "fingerprint": own() if callable(own) else dataset_fingerprint(dataset)},
        "model": loaded.checksum,
        "preprocess": loaded.preprocess_cfg,
    })


def make_result(
    outcome: Mapping[str, Any],
    loaded: LoadedModel,
    *,
    preset: str | None = None,
    command: Sequence[str] | None = None,
    identity: str | None = None,
) -> dict[str, Any]:
    """The result record of an evaluator's outcome (``zero_shot_classify`` and friends).

    ``identity`` (from :func:`result_identity`) names the file and decides reuse.
    """
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
        "identity": identity,
        "protocol_version": PROTOCOL_VERSION,
        "completeness": dataset.get("completeness"),
    }
    extras = ("num_captions", "num_distinct_captions", "ties", "chance")
    result |= {k: outcome[k] for k in extras if k in outcome}
    return _jsonable(result)


def result_stem(task: str, dataset: str, split: str, model: str, checksum: str,
                preset: str | None = None, variant: str | None = None,
                identity: str | None = None) -> str:
    """File stem ``dataset__split__model-sha8__task[-preset][-variant][__identity12]``."""
    model_part = _UNSAFE.sub("-", Path(model.rstrip("/")).name or model)[:60]
    suffix = "".join(f"-{_UNSAFE.sub('-', s)}" for s in (preset, variant) if s)
    tail = f"__{identity[:IDENTITY_CHARS]}" if identity else ""
    return f"{dataset}__{split}__{model_part}-{checksum[:8]}__{task}{suffix}{tail}"


def result_path(out_dir: str | Path, result: Mapping[str, Any]) -> Path:
    """Where ``result`` is written under ``out_dir``."""
    k_shot = result["protocol"].get("k_shot")
    stem = result_stem(result["task"], result["dataset"], result["split"], result["model"],
                       result["checkpoint_sha256"], result.get("preset"),
                       f"{k_shot}shot" if k_shot else None, result.get("identity"))
    return Path(out_dir) / f"{stem}.json"


def reusable_result(path: Path, identity: str) -> bool:
    """Whether ``path`` holds a result of exactly this identity (a file name is only a prefix)."""
    if not path.is_file():
        return False
    try:
        stored = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(stored, dict) and stored.get("identity") == identity


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
