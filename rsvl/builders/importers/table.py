"""open_clip-style CSV/TSV: one row per (image, caption) pair, as ``--csv-img-key`` reads.

Rows naming the same image are grouped into one record with several captions, in row order.
Relative image paths are resolved against ``images_dir`` (default: the table's folder) and
must stay inside it (:mod:`rsvl.builders.importers.paths`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from rsvl.builders.importers.base import SourceItem, key_from_path
from rsvl.builders.importers.paths import image_inside
from rsvl.errors import InputError

OPTIONS = ("images_dir", "image_column", "caption_column", "separator", "split_column", "split",
           "allow_outside_images_dir")


def read_items(source: str | Path, images_dir: str | Path | None = None,
               image_column: str = "filepath", caption_column: str = "title",
               separator: str | None = None, split_column: str | None = None,
               split: str = "train",
               allow_outside_images_dir: bool = False) -> Iterator[SourceItem]:
    """Items of a caption table.

    Args:
        source: The CSV/TSV file.
        images_dir: Folder relative image paths start from.
        image_column: Column holding image paths (open_clip's ``--csv-img-key``).
        caption_column: Column holding captions (open_clip's ``--csv-caption-key``).
        separator: Field separator; default tab for ``.tsv``, comma otherwise.
        split_column: Column holding each row's split; without it every row is in ``split``.
        split: The split of every row when there is no split column.
        allow_outside_images_dir: Accept image paths that leave ``images_dir`` (absolute,
            ``..``, symlinks out); refused by default.

    Raises:
        InputError: A column is missing, a row is inconsistent or its image path leaves
            ``images_dir``.
    """
    path = Path(source)
    if not path.is_file():
        raise InputError(f"caption table not found: {path}")
    base = Path(images_dir) if images_dir is not None else path.parent
    delimiter = separator or ("\t" if path.suffix.lower() == ".tsv" else ",")
    grouped: dict[str, SourceItem] = {}
    line = 1
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            columns = [c for c in (image_column, caption_column, split_column) if c]
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(
                    f"{path}: no column {missing[0]!r}; columns are {reader.fieldnames} "
                    "(choose with --image-column/--caption-column/--split-column/--separator)"
                )
            for line, row in enumerate(reader, start=2):
                relative = (row[image_column] or "").strip()
                origin = f"{path}:{line} ({relative})"
                row_split = row[split_column] if split_column else split
                item = grouped.get(relative)
                if item is None:
                    grouped[relative] = SourceItem(
                        key=key_from_path(relative), captions=[row[caption_column] or ""],
                        split=row_split or "", origin=origin,
                        image=image_inside(base, relative, f"{path}:{line}",
                                           allow_outside_images_dir),
                        extra={"source_image": relative},
                    )
                elif row_split != item.split:
                    raise InputError(f"{origin}: split {row_split!r} differs from {item.origin}")
                else:
                    item.captions.append(row[caption_column] or "")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text after line {line} ({error.reason}); "
                         "save the table as UTF-8") from None
    except csv.Error as error:
        raise InputError(f"{path}: not a readable table ({error})") from None
    yield from grouped.values()
