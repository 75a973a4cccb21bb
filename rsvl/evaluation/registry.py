"""The benchmark registry: one JSON file per dataset under ``benchmarks/``, read into a dict.

Each entry says what the dataset is (task, classes and their display names, the layouts and
sub-folders it ships in, the split evaluated), where users get it, its licence and citation.
Folders and files of the same shapes work without an entry (see :mod:`rsvl.evaluation.datasets`).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from rsvl.errors import ConfigError, InputError

Task = Literal["classification", "retrieval"]
DATA_DIR_ENV = "RSVL_DATA_DIR"


@dataclass(frozen=True)
class Benchmark:
    """One registered evaluation dataset.

    Attributes:
        name: Registry key (lower case), e.g. ``whu-rs19``.
        title: The name papers use.
        task: ``classification`` or ``retrieval``.
        dirname: The folder name it unpacks to (looked for under ``--root`` or $RSVL_DATA_DIR).
        layouts: On-disk layouts it ships in (``class_folders``, ``flat``, ``karpathy_json``).
        folders: Sub-folders, relative to the dataset folder, that may hold the data.
        annotation: Caption file names (retrieval).
        image_dirs: Image folders next to the caption file (retrieval).
        classes: Class folder names as distributed, or None when taken from the folders.
        class_names: Per-dataset display-name fixes, folder name -> class name.
        split: ``all`` (the whole dataset, as zero-shot papers do) or ``test``.
        licence: Licence or terms of use.
        citation: The paper to cite.
        url: Where to get it.
        hf_dataset: A Hugging Face dataset id, when one is known.
        num_images: Images in the published release.
        note: Anything users should know.
        image_format: File format of its images.
        aliases: Other names it is known by.
    """

    name: str
    title: str
    task: Task
    dirname: str
    layouts: tuple[str, ...]
    folders: tuple[str, ...]
    annotation: tuple[str, ...]
    image_dirs: tuple[str, ...]
    classes: tuple[str, ...] | None
    class_names: dict[str, str]
    split: str
    licence: str
    citation: str
    url: str
    hf_dataset: str | None = None
    num_images: int | None = None
    note: str = ""
    image_format: str = "jpg"
    aliases: tuple[str, ...] = field(default=())

    def where_to_get(self) -> str:
        """One sentence telling users where the data comes from."""
        hub = f" (Hugging Face: {self.hf_dataset})" if self.hf_dataset else ""
        return f"get {self.title} from {self.url}{hub}; licence: {self.licence}"


def _from_json(payload: dict[str, Any]) -> Benchmark:
    tuples = ("layouts", "folders", "annotation", "image_dirs", "aliases")
    fields: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in payload.items()}
    classes = payload.get("classes")
    fields["classes"] = tuple(classes) if classes is not None else None
    return Benchmark(**fields)


@functools.cache
def _registry() -> dict[str, Benchmark]:
    folder = resources.files("rsvl.evaluation").joinpath("benchmarks")
    entries = [json.loads(f.read_text()) for f in folder.iterdir() if f.name.endswith(".json")]
    return {entry["name"]: _from_json(entry) for entry in entries}


@functools.cache
def _aliases() -> dict[str, str]:
    return {alias: b.name for b in _registry().values() for alias in (b.name, *b.aliases)}


def list_benchmarks(task: Task | None = None) -> list[str]:
    """Registered dataset names, optionally only those of one task."""
    return sorted(n for n, b in _registry().items() if task is None or b.task == task)


def find_benchmark(name: str) -> Benchmark | None:
    """The entry called ``name`` (or one of its aliases, any case), or None."""
    key = _aliases().get(name.strip().lower())
    return _registry()[key] if key else None


def get_benchmark(name: str) -> Benchmark:
    """The entry called ``name``; raise one clear line when there is none."""
    benchmark = find_benchmark(name)
    if benchmark is None:
        raise ConfigError(
            f"unknown dataset {name!r}: pass a folder or caption file, or one of "
            f"{', '.join(list_benchmarks())}"
        )
    return benchmark


def dataset_home(benchmark: Benchmark, root: str | Path | None) -> Path:
    """The folder holding ``benchmark``: ``root`` itself, ``root/dirname``, or under $RSVL_DATA_DIR.

    Raises:
        InputError: When no candidate exists; the message says where to get the data.
    """
    if root and Path(root).name == benchmark.dirname:
        candidates = [Path(root)]
    elif root:
        candidates = [Path(root) / benchmark.dirname, Path(root)]
    elif os.environ.get(DATA_DIR_ENV):
        candidates = [Path(os.environ[DATA_DIR_ENV]) / benchmark.dirname]
    else:
        candidates = []
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = " or ".join(map(str, candidates)) or f"--root (or ${DATA_DIR_ENV})"
    raise InputError(f"{benchmark.title} not found at {looked}: {benchmark.where_to_get()}")
