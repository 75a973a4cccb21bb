"""Hugging Face datasets: a hub id when online, or a local builder (``parquet``, ``imagefolder``).

The same code path serves ``load_dataset("org/rsicd")`` and
``load_dataset("parquet", data_files={"test": "OUT/parquet/test.parquet"})``: every split of
the returned ``DatasetDict`` becomes records of that split (``validation`` -> ``val``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from rsvl.builders.importers.base import SourceItem, key_from_path
from rsvl.errors import InputError

OPTIONS = ("data_files", "data_dir", "hf_config", "image_column", "caption_column",
           "key_column", "cache_dir")


def read_items(source: str, data_files: Mapping[str, str] | None = None,
               data_dir: str | None = None, hf_config: str | None = None,
               image_column: str = "image", caption_column: str = "text",
               key_column: str = "key",
               cache_dir: str | Path | None = None) -> Iterator[SourceItem]:
    """Items of every split of a Hugging Face dataset.

    Args:
        source: Hub dataset id, or a packaged builder name (``parquet``, ``imagefolder``).
        data_files: Split name -> file (or glob) for local builders.
        data_dir: Folder for ``imagefolder``-style builders.
        hf_config: The dataset's configuration name.
        image_column: Column of ``Image`` type.
        caption_column: Column holding a caption or a list of captions.
        key_column: Column holding unique ids; rows are numbered per split without it.
        cache_dir: The ``datasets`` cache folder (default: the user's cache).
    """
    from datasets import DatasetDict, Image, load_dataset

    try:
        loaded = load_dataset(
            source, hf_config, data_files=dict(data_files) if data_files else None,
            data_dir=data_dir, cache_dir=str(cache_dir) if cache_dir else None,
        )
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"cannot load Hugging Face dataset {source!r}: {first_line}") from None
    splits = loaded if isinstance(loaded, DatasetDict) else DatasetDict({"train": loaded})
    for split_name, dataset in splits.items():
        missing = [c for c in (image_column, caption_column) if c not in dataset.column_names]
        if missing:
            raise InputError(
                f"{source} [{split_name}]: no column {missing[0]!r}; columns are "
                f"{dataset.column_names} (choose with --image-column/--caption-column)"
            )
        # Undecoded images give the stored bytes (or a local path) without a PIL round trip.
        dataset = dataset.cast_column(image_column, Image(decode=False))
        texts = dataset[caption_column]
        keys = dataset[key_column] if key_column in dataset.column_names else None
        for index, text in enumerate(texts):
            key = key_from_path(str(keys[index])) if keys else f"{split_name}_{index:07d}"
            yield SourceItem(
                key=key, captions=list(text) if isinstance(text, list) else [str(text or "")],
                split=split_name, origin=f"{source} [{split_name}] row {index}",
                image=_row_image(dataset, image_column, index),
                extra={"source_row": index},
            )


def _row_image(dataset: Any, column: str, index: int) -> Callable[[], bytes]:
    def read() -> bytes:
        value = dataset[index][column]
        if value.get("bytes"):
            return bytes(value["bytes"])
        return Path(value["path"]).read_bytes()

    return read
