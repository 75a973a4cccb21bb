"""Evaluation dataset loaders for the layouts benchmarks ship in.

Classification: one folder per class (UC Merced, AID, RESISC45, EuroSAT ``2750/<Class>``...)
or a flat folder with the class in the file name (``airport_01.jpg``). Retrieval: a
Karpathy-style caption JSON (RSICD, RSITMD, UCM-Captions, Sydney-Captions, rsvl's builder) or a
CSV/TSV of ``filepath,caption``. A registered name (see :mod:`rsvl.evaluation.registry`) or any
folder/file of these shapes works. Images are only listed here; decoding (and counting the
unreadable ones) happens when features are computed. A registered benchmark found with fewer
images than its registry count is refused unless ``allow_partial`` (then recorded as partial).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsvl.data.class_names import display_name
from rsvl.errors import InputError
from rsvl.evaluation.registry import Benchmark, dataset_home, get_benchmark

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
# A flat folder's file stem is CLASS + optional separator + a number: airport_01, beach-7, river12.
_FLAT_NAME = re.compile(r"^(?P<cls>.*?[^\d_\-\s])[_\-\s]*\d+$")
_CSV_PATH_COLUMNS = ("filepath", "image", "path", "filename", "file")
_CSV_CAPTION_COLUMNS = ("caption", "title", "text", "sentence")
_CAPTION_IMAGE_DIRS = ("images", "imgs")


@dataclass(frozen=True)
class Completeness:
    """A registered benchmark's image count against what was found on disk.

    Attributes:
        expected_images: Images in the published release (the registry's ``num_images``).
        found_images: Images found (classification) or listed in the caption file, all splits
            (retrieval).
        missing_files: Images of the evaluated split listed but absent on disk (retrieval).
        partial: Scored although incomplete (``--allow-partial``).
    """

    expected_images: int
    found_images: int
    missing_files: int = 0
    partial: bool = False


def check_complete(benchmark: Benchmark, found: int, where: Path, *, missing: int = 0,
                   allow_partial: bool = False) -> Completeness | None:
    """Compare a registered benchmark's image count with what was found.

    Raises:
        InputError: Fewer images than the registry count (or listed images missing), unless
            ``allow_partial``.
    """
    if benchmark.num_images is None:
        return None
    short = found < benchmark.num_images or missing > 0
    if short and not allow_partial:
        lacking = (f"{missing} listed images are missing" if missing
                   else f"{found} of its {benchmark.num_images} images were found")
        raise InputError(f"{benchmark.title} at {where} is incomplete ({lacking}); "
                         f"{benchmark.where_to_get()}; or pass --allow-partial to score it "
                         "anyway (recorded in the result)")
    return Completeness(benchmark.num_images, found, missing, short)


@dataclass
class ClassificationSet:
    """Labelled images of a scene-classification dataset.

    Attributes:
        name: Dataset name (registry name or folder name).
        root: The folder the images were found in.
        paths: Image files, grouped by class, sorted.
        labels: Class index of each image.
        classes: Class ids as on disk (folder or file-name prefix), sorted.
        classnames: Display names used in prompts, same order as ``classes``.
        layout: ``class_folders`` or ``flat``.
        split: Which images these are (``all``: the whole dataset).
        completeness: How many images a registered benchmark should have and has (None for
            unregistered folders).
    """

    name: str
    root: Path
    paths: list[Path]
    labels: list[int]
    classes: list[str]
    classnames: list[str]
    layout: str
    split: str = "all"
    completeness: Completeness | None = None


@dataclass
class RetrievalSet:
    """Images and their captions (several per image) of a retrieval dataset.

    Attributes:
        name: Dataset name.
        source: The caption file.
        image_paths: One path per image.
        captions: All captions, flat.
        caption_image: For each caption, the index of its image in ``image_paths``.
        layout: ``karpathy_json`` or ``csv``.
        split: The split evaluated.
        completeness: How many images a registered benchmark should have and has.
    """

    name: str
    source: Path
    image_paths: list[Path]
    captions: list[str]
    caption_image: list[int]
    layout: str
    split: str
    completeness: Completeness | None = None


def _is_image(path: Path) -> bool:
    return (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
            and not path.name.startswith("."))


def _class_key(name: str) -> str:
    """Case- and separator-insensitive key, so ``railwayStation`` matches ``railwaystation``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _read_class_folders(folder: Path) -> list[tuple[Path, str]]:
    samples = []
    for class_dir in _class_dirs(folder):
        images = sorted(p for p in class_dir.rglob("*") if _is_image(p))
        if not images:
            raise InputError(
                f"class folder {class_dir} holds no images ({' '.join(IMAGE_SUFFIXES)}); "
                "add its images or remove the folder"
            )
        samples += [(p, class_dir.name) for p in images]
    return samples


def _read_flat(folder: Path) -> list[tuple[Path, str]]:
    samples = []
    for path in sorted(p for p in folder.iterdir() if _is_image(p)):
        match = _FLAT_NAME.match(path.stem)
        if match is None:
            raise InputError(
                f"cannot read a class from file name {path}: in a flat folder name the files "
                f"CLASS_NUMBER{path.suffix} (e.g. airport_01{path.suffix}) or use class folders"
            )
        samples.append((path, match["cls"]))
    return samples


CLASSIFICATION_LAYOUTS: dict[str, Callable[[Path], list[tuple[Path, str]]]] = {
    "class_folders": _read_class_folders,
    "flat": _read_flat,
}


def detect_layout(folder: Path) -> str:
    """``class_folders`` when ``folder`` has sub-folders, ``flat`` when it holds images."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if any(p.is_dir() for p in entries):
        return "class_folders"
    if any(_is_image(p) for p in entries):
        return "flat"
    raise InputError(
        f"{folder} holds neither class folders nor images ({' '.join(IMAGE_SUFFIXES)})"
    )


def _data_folder(benchmark: Benchmark, root: str | Path | None) -> Path:
    home = dataset_home(benchmark, root)
    for sub in benchmark.folders:
        candidate = home / sub
        if candidate.is_dir() and any(p.is_dir() or _is_image(p) for p in candidate.iterdir()):
            return candidate
    return home


def _check_classes(benchmark: Benchmark, folder: Path, found: list[str]) -> None:
    if benchmark.classes is None:
        return
    expected = {_class_key(c): c for c in benchmark.classes}
    present = {_class_key(c): c for c in found}
    missing = [expected[k] for k in expected if k not in present]
    unexpected = [present[k] for k in present if k not in expected]
    if missing or unexpected:
        raise InputError(
            f"class folders in {folder} do not match {benchmark.title}'s {len(expected)} classes "
            f"(missing: {', '.join(missing) or 'none'}; "
            f"unexpected: {', '.join(unexpected) or 'none'}); "
            "point --root at the folder that holds the class folders"
        )


def _classnames(classes: list[str], overrides: Mapping[str, str], where: str) -> list[str]:
    by_key = {_class_key(folder): name for folder, name in overrides.items()}
    unknown = sorted(set(by_key) - {_class_key(c) for c in classes})
    if unknown:
        raise InputError(
            f"class names given for {where} name classes that are not in its folders "
            f"({', '.join(unknown)}); its classes are: {', '.join(classes)}"
        )
    return [display_name(c, {c: by_key[_class_key(c)]} if _class_key(c) in by_key else None)
            for c in classes]


def load_classification(
    dataset: str | Path,
    root: str | Path | None = None,
    class_names: Mapping[str, str] | None = None,
    *,
    allow_partial: bool = False,
) -> ClassificationSet:
    """Load a classification dataset by registry name or folder.

    Args:
        dataset: A registered name (``whu-rs19``) or a folder of class folders / named images.
        root: Where a registered dataset lives (its folder or the folder above it).
        class_names: Folder name -> class name overrides (e.g. a preset's), checked against
            the folders.
        allow_partial: Score a registered benchmark that has fewer images than its release.

    Returns:
        The image paths, labels and class names (whole dataset: split ``all``).
    """
    path = Path(dataset)
    if path.is_dir():
        benchmark, folder, name = None, path, path.name
    else:
        benchmark = get_benchmark(str(dataset))
        folder, name = _data_folder(benchmark, root), benchmark.name
    layout = detect_layout(folder)
    if benchmark is not None and layout == "class_folders":
        # Check the folder names before reading them: a wrong --root fails with this message.
        _check_classes(benchmark, folder, [d.name for d in _class_dirs(folder)])
    samples = CLASSIFICATION_LAYOUTS[layout](folder)
    classes = sorted({cls for _, cls in samples})
    completeness = None
    if benchmark is not None:
        _check_classes(benchmark, folder, classes)
        completeness = check_complete(benchmark, len(samples), folder,
                                      allow_partial=allow_partial)
    overrides = {**(benchmark.class_names if benchmark else {}), **(class_names or {})}
    index = {cls: i for i, cls in enumerate(classes)}
    return ClassificationSet(
        name=name,
        root=folder,
        paths=[p for p, _ in samples],
        labels=[index[cls] for _, cls in samples],
        classes=classes,
        classnames=_classnames(classes, overrides, str(folder)),
        layout=layout,
        split=benchmark.split if benchmark else "all",
        completeness=completeness,
    )


def _caption_file(benchmark: Benchmark | None, path: Path, root: str | Path | None) -> Path:
    if benchmark is None and path.is_file():
        return path
    folder = dataset_home(benchmark, root) if benchmark else path
    names = benchmark.annotation if benchmark else ("dataset.json", "captions.csv", "captions.tsv")
    subs = benchmark.folders if benchmark else ("",)
    for sub in subs:
        for filename in names:
            if (folder / sub / filename).is_file():
                return folder / sub / filename
    raise InputError(f"no caption file ({', '.join(names)}) in {folder}; pass the file itself")


def _image_folder(source: Path, first: str, extra_dirs: tuple[str, ...]) -> Path:
    candidates = [source.parent / d for d in (*extra_dirs, *_CAPTION_IMAGE_DIRS)] + [source.parent]
    for candidate in candidates:
        if (candidate / first).is_file():
            return candidate
    raise InputError(
        f"images of {source} not found: looked for {first} in "
        f"{', '.join(str(c) for c in candidates)}"
    )


def _read_karpathy(source: Path, split: str, image_dirs: tuple[str, ...]) -> RetrievalSet:
    try:
        payload = json.loads(source.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(
            f"{source} is not valid JSON ({error}); expected a Karpathy-style file"
        ) from None
    entries = payload.get("images") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{source} has no 'images' list; expected {{'images': [{{'filename', "
                         "'split', 'sentences': [{'raw'}]}]}")
    chosen = [e for e in entries if split == "all" or e.get("split") == split]
    if not chosen:
        present = sorted({str(e.get("split")) for e in entries})
        raise InputError(f"{source} has no images in split {split!r} (splits present: "
                         f"{', '.join(present) or 'none'}); pass --split")
    relative = [Path(e.get("filepath") or "") / str(e["filename"]) for e in chosen]
    folder = _image_folder(source, str(relative[0]), image_dirs)
    captions, caption_image = [], []
    for i, entry in enumerate(chosen):
        sentences = entry.get("sentences") or []
        if not sentences:
            raise InputError(f"image {entry['filename']} in {source} has no sentences")
        for sentence in sentences:
            captions.append(sentence.get("raw") or " ".join(sentence.get("tokens", [])))
            caption_image.append(i)
    return RetrievalSet(source.parent.name, source, [folder / r for r in relative], captions,
                        caption_image, "karpathy_json", split)


def _pick_column(header: list[str], choices: tuple[str, ...], source: Path, what: str) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for choice in choices:
        if choice in lowered:
            return lowered[choice]
    raise InputError(f"{source} has no {what} column (one of {', '.join(choices)}); "
                     f"its header is: {', '.join(header)}")


def _read_caption_csv(source: Path, split: str, image_dirs: tuple[str, ...]) -> RetrievalSet:
    with source.open(newline="") as handle:
        delimiter = "\t" if "\t" in handle.readline() else ","
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=delimiter)
        header = list(reader.fieldnames or [])
        path_col = _pick_column(header, _CSV_PATH_COLUMNS, source, "image path")
        caption_col = _pick_column(header, _CSV_CAPTION_COLUMNS, source, "caption")
        split_col = next((h for h in header if h.strip().lower() == "split"), None)
        rows = [r for r in reader if split_col is None or split == "all" or r[split_col] == split]
    if not rows:
        raise InputError(f"{source} has no rows in split {split!r}; pass --split")
    order: dict[str, int] = {}
    caption_image = [order.setdefault(r[path_col], len(order)) for r in rows]
    paths = [Path(p) if Path(p).is_absolute() else source.parent / p for p in order]
    return RetrievalSet(source.parent.name, source, paths, [r[caption_col] for r in rows],
                        caption_image, "csv", split if split_col else "all")


RETRIEVAL_READERS: dict[str, Callable[[Path, str, tuple[str, ...]], RetrievalSet]] = {
    ".json": _read_karpathy,
    ".csv": _read_caption_csv,
    ".tsv": _read_caption_csv,
}


def _listed_images(source: Path, layout: str) -> int:
    """Images the caption file lists over all its splits (the registry counts the release)."""
    if layout == "karpathy_json":
        return len(json.loads(source.read_text())["images"])
    return len(load_retrieval(source, split="all").image_paths)


def load_retrieval(
    dataset: str | Path, root: str | Path | None = None, split: str = "test", *,
    allow_partial: bool = False,
) -> RetrievalSet:
    """Load a retrieval dataset by registry name, caption file or folder holding one.

    Args:
        dataset: A registered name (``rsicd``), a Karpathy JSON, a CSV/TSV with a path and a
            caption column, or a folder holding ``dataset.json``.
        root: Where a registered dataset lives.
        split: Split to evaluate (``all`` for every image; CSVs without a split column are
            read whole).
        allow_partial: Score a registered benchmark whose caption file lists fewer images than
            its release, or whose listed images are missing on disk.
    """
    path = Path(dataset)
    benchmark = None if path.exists() else get_benchmark(str(dataset))
    source = _caption_file(benchmark, path, root)
    reader = RETRIEVAL_READERS.get(source.suffix.lower())
    if reader is None:
        raise InputError(f"{source}: caption files must be {', '.join(RETRIEVAL_READERS)}")
    result = reader(source, split, benchmark.image_dirs if benchmark else ())
    if benchmark is not None:
        result.name = benchmark.name
        missing = sum(not p.is_file() for p in result.image_paths)
        result.completeness = check_complete(benchmark, _listed_images(source, result.layout),
                                             source, missing=missing,
                                             allow_partial=allow_partial)
    return result


def describe(dataset: ClassificationSet | RetrievalSet) -> dict[str, Any]:
    """Where a dataset was read from and whether it is complete, for results."""
    source = dataset.root if isinstance(dataset, ClassificationSet) else dataset.source
    completeness = dataset.completeness
    return {"name": dataset.name, "path": str(source), "layout": dataset.layout,
            "split": dataset.split,
            "completeness": None if completeness is None else vars(completeness)}


def files_fingerprint(paths: Iterable[Path], digest: Any = None) -> str:
    """sha256 over each file's resolved path and content.

    Content, not modification time: a set rebuilt with the same bytes (a demo or suite rerun)
    keeps its fingerprint and its stored results; reading is cheap beside encoding the images.
    """
    digest = digest or hashlib.sha256()
    for path in paths:
        content = hashlib.sha256()
        if path.is_file():
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    content.update(block)
        else:
            content.update(b"\0missing")
        digest.update(f"{path.resolve()}\0{content.hexdigest()}\n".encode())
    return str(digest.hexdigest())


def dataset_fingerprint(dataset: Any) -> str:
    """What a result was computed on: the caption file's bytes (retrieval), labels, and the
    image files' paths and content; any change gives another fingerprint."""
    if not isinstance(dataset, (RetrievalSet, ClassificationSet)):
        raise TypeError(f"no fingerprint for {type(dataset).__name__}: give it fingerprint()")
    digest = hashlib.sha256()
    if isinstance(dataset, RetrievalSet):
        digest.update(hashlib.sha256(dataset.source.read_bytes()).digest())
        digest.update(json.dumps([dataset.split, dataset.caption_image]).encode())
        paths = dataset.image_paths
    else:
        digest.update(json.dumps([dataset.classes, dataset.labels]).encode())
        paths = dataset.paths
    return files_fingerprint(paths, digest)
