"""Run one evaluation task (or a suite of them) and write its result file; used by the CLI.

Tasks are a dict name -> (dataset loader, evaluator). A result that already exists is kept
(interrupted suites resume) unless ``overwrite`` is set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsvl.errors import InputError, RsvlError
from rsvl.evaluation.datasets import (
    ClassificationSet,
    RetrievalSet,
    load_classification,
    load_retrieval,
)
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.knn import knn_classify
from rsvl.evaluation.linear_probe import linear_probe
from rsvl.evaluation.prompts import DEFAULT_PRESET, get_preset, get_templates
from rsvl.evaluation.registry import find_benchmark
from rsvl.evaluation.results import make_result, result_stem, write_result
from rsvl.evaluation.retrieval import evaluate_retrieval
from rsvl.evaluation.zeroshot import zero_shot_classify
from rsvl.models import LoadedModel

Dataset = ClassificationSet | RetrievalSet


@dataclass(frozen=True)
class EvalRequest:
    """One evaluation to run.

    Attributes:
        task: ``zeroshot``, ``retrieval``, ``linear-probe`` or ``knn``.
        dataset: Registry name, folder or caption file.
        root: Where a registered dataset lives.
        split: Retrieval split (default ``test``).
        preset: Zero-shot protocol preset.
        templates: Template set name or JSON file overriding the preset's.
        k_shot: Few-shot training images per class (probes).
        seed: Split seed (probes).
        k: Neighbours (k-NN).
    """

    task: str
    dataset: str
    root: str | None = None
    split: str = "test"
    preset: str = DEFAULT_PRESET
    templates: str | None = None
    k_shot: int | None = None
    seed: int = 0
    k: int = 20


def _dataset_name(request: EvalRequest) -> str:
    benchmark = None if Path(request.dataset).exists() else find_benchmark(request.dataset)
    return benchmark.name if benchmark else Path(request.dataset).name


def _load_for_zeroshot(request: EvalRequest) -> Dataset:
    overrides = get_preset(request.preset).class_names.get(_dataset_name(request))
    return load_classification(request.dataset, request.root, overrides)


def _load_images(request: EvalRequest) -> Dataset:
    return load_classification(request.dataset, request.root)


def _load_captions(request: EvalRequest) -> Dataset:
    return load_retrieval(request.dataset, request.root, request.split)


def _zeroshot(loaded: LoadedModel, dataset: Any, request: EvalRequest,
              options: FeatureOptions) -> dict[str, Any]:
    preset = get_preset(request.preset)
    template_set = request.templates or preset.template_set(dataset.name)
    outcome = zero_shot_classify(loaded, dataset, get_templates(template_set),
                                 ensemble=preset.ensemble, options=options)
    outcome["protocol"] |= {"preset": preset.name, "template_set": str(template_set)}
    return outcome


def _retrieval(loaded: LoadedModel, dataset: Any, request: EvalRequest,
               options: FeatureOptions) -> dict[str, Any]:
    return evaluate_retrieval(loaded, dataset, options=options)


def _linear_probe(loaded: LoadedModel, dataset: Any, request: EvalRequest,
                  options: FeatureOptions) -> dict[str, Any]:
    return linear_probe(loaded, dataset, k_shot=request.k_shot, seed=request.seed,
                        options=options)


def _knn(loaded: LoadedModel, dataset: Any, request: EvalRequest,
         options: FeatureOptions) -> dict[str, Any]:
    return knn_classify(loaded, dataset, k=request.k, k_shot=request.k_shot, seed=request.seed,
                        options=options)


Evaluator = Callable[[LoadedModel, Any, EvalRequest, FeatureOptions], dict[str, Any]]
TASKS: dict[str, tuple[Callable[[EvalRequest], Dataset], Evaluator]] = {
    "zeroshot": (_load_for_zeroshot, _zeroshot),
    "retrieval": (_load_captions, _retrieval),
    "linear-probe": (_load_images, _linear_probe),
    "knn": (_load_images, _knn),
}


def run_evaluation(
    loaded: LoadedModel,
    request: EvalRequest,
    out_dir: str | Path,
    options: FeatureOptions | None = None,
    *,
    overwrite: bool = False,
    command: Sequence[str] | None = None,
) -> tuple[Path, dict[str, Any] | None]:
    """Evaluate and write the result; returns ``(path, result)``, result None when it existed."""
    if request.task not in TASKS:
        raise InputError(f"unknown task {request.task!r}; choose from {', '.join(TASKS)}")
    load, evaluate = TASKS[request.task]
    dataset = load(request)
    preset = request.preset if request.task == "zeroshot" else None
    variant = f"{request.k_shot}shot" if request.k_shot and request.task != "zeroshot" else None
    stem = result_stem(request.task, dataset.name, dataset.split, str(loaded.spec),
                       loaded.checksum, preset, variant)
    existing = Path(out_dir) / f"{stem}.json"
    if existing.is_file() and not overwrite:
        return existing, None
    outcome = evaluate(loaded, dataset, request, options or FeatureOptions())
    result = make_result(outcome, loaded, preset=preset, command=command)
    return write_result(out_dir, result), result


def read_suite(path: str | Path) -> dict[str, Any]:
    """A suite file: ``{"name", "preset"?, "runs": [{"task", "datasets": [...]}]}``."""
    path = Path(path)
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"suite file {path} not found; see eval/suites/*.json") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON ({error.msg}, line {error.lineno})") from None
    runs = suite.get("runs") if isinstance(suite, dict) else None
    if not isinstance(runs, list) or not all("task" in r and "datasets" in r for r in runs):
        raise InputError(f"{path} must hold {{'runs': [{{'task': ..., 'datasets': [...]}}]}}")
    return suite


def suite_requests(suite: dict[str, Any], root: str | None) -> list[EvalRequest]:
    """The requests of a suite, in order.

    ``root`` is the folder holding the datasets, each under its registry ``dirname`` (never
    ``root`` itself: a missing dataset must not fall back to its siblings' folder).
    """
    base = {k: suite[k] for k in ("preset",) if k in suite}
    requests = []
    for run in suite["runs"]:
        options = {k: v for k, v in run.items() if k not in ("task", "datasets")}
        for name in run["datasets"]:
            benchmark = find_benchmark(name)
            home = str(Path(root) / benchmark.dirname) if root and benchmark else root
            requests.append(EvalRequest(task=run["task"], dataset=name, root=home, **base,
                                        **options))
    return requests


def run_requests(
    loaded: LoadedModel,
    requests: Sequence[EvalRequest],
    out_dir: str | Path,
    options: FeatureOptions,
    *,
    overwrite: bool = False,
    report: Callable[[str], None] = print,
) -> list[Path]:
    """Run several requests; one whose dataset is missing or broken is reported and skipped
    (unless ``options.strict``)."""
    written = []
    for request in requests:
        label = f"{request.task} {request.dataset}"
        try:
            path, result = run_evaluation(loaded, request, out_dir, options,
                                          overwrite=overwrite)
        except RsvlError as error:
            if options.strict:
                raise
            report(f"skipped {label}: {error}")
            continue
        report(f"{label}: {'kept existing' if result is None else 'wrote'} {path}")
        written.append(path)
    return written
