"""Features and captions without imagery: the text half of a build, for any OSM extract.

Streams the extract (a country ``.osm.pbf`` never has to fit in memory as one frame), keeps
the groundable features, and writes ``OUT/features.parquet`` (GeoParquet, cleaned tags),
``OUT/captions.jsonl`` (one line per feature: key, osm_id, tags, captions) and a manifest.
Useful to inspect the vocabulary and captions of an area before any imagery is at hand.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from tqdm import tqdm

from rsvl.builders.focus import sample_key
from rsvl.builders.manifest import describe_inputs, write_manifest
from rsvl.captions import make_captions
from rsvl.data.atomic import atomic_open
from rsvl.osm import TagVocabulary, clean_tags, describe, iter_features, write_features

CAPTIONS_FILE = "captions.jsonl"
FEATURES_FILE = "features.parquet"


@dataclass
class FeatureCaptions:
    """What a text-only build wrote.

    Attributes:
        root: Output folder.
        features_read: Features in the extract.
        captioned: Groundable features, each with captions.
        vocabulary: Tag vocabulary of the captioned features.
    """

    root: Path
    features_read: int
    captioned: int
    vocabulary: TagVocabulary


def build_feature_captions(osm: str, out: str | Path, source: str = "osm", seed: int = 0,
                           captions_per_feature: int = 3,
                           read_options: Mapping[str, Any] | None = None,
                           command: list[str] | None = None) -> FeatureCaptions:
    """Caption every groundable feature of an extract (no imagery, no context).

    Args:
        osm: Any source ``rsvl.osm.iter_features`` reads.
        out: Output folder.
        source: Key prefix and the lines' ``source``.
        seed: Caption seed.
        captions_per_feature: Captions per feature.
        read_options: Extra keyword arguments for ``iter_features`` (``default_tags``...).
        command: The command line to record (default: ``sys.argv``).

    Raises:
        InputError: The extract is missing, malformed or truncated.
    """
    root = Path(out)
    vocabulary = TagVocabulary()
    kept: list[gpd.GeoDataFrame] = []
    features_read = 0
    with atomic_open(root / CAPTIONS_FILE, "w") as handle:
        for chunk in tqdm(iter_features(osm, **dict(read_options or {})), desc="features",
                          unit="chunk", leave=False):
            features_read += len(chunk)
            chunk = chunk.sort_values("osm_id", kind="stable")
            raw_tags = list(chunk["tags"])
            cleaned = [clean_tags(tags) for tags in raw_tags]
            groundable = [describe(tags) is not None for tags in cleaned]
            vocabulary.update(t for t, keep in zip(raw_tags, groundable, strict=True) if keep)
            for osm_id, tags, keep in zip(chunk["osm_id"], cleaned, groundable, strict=True):
                if not keep:
                    continue
                key = sample_key(source, osm_id)
                captions = make_captions(tags, [], seed=f"{seed}:{key}", n=captions_per_feature)
                line = {"key": key, "osm_id": osm_id, "source": source, "tags": tags,
                        "captions": captions}
                handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            selected = chunk.loc[groundable].copy()
            selected["tags"] = [t for t, keep in zip(cleaned, groundable, strict=True) if keep]
            kept.append(selected)
    frame = gpd.GeoDataFrame(pd.concat(kept, ignore_index=True), crs=kept[0].crs) if kept \
        else None
    if frame is not None:
        write_features(frame, root / FEATURES_FILE)
    captioned = 0 if frame is None else len(frame)
    write_manifest(
        root, command=list(command if command is not None else sys.argv),
        config={"source": source, "seed": seed, "captions_per_feature": captions_per_feature,
                "read_options": dict(read_options or {})},
        inputs=describe_inputs({"osm": osm}),
        counts={"features_read": features_read, "captioned": captioned},
        rejected={"not_groundable": features_read - captioned}, imagery_licence=None,
        extra={"tag_vocabulary": vocabulary.to_dict()},
    )
    return FeatureCaptions(root, features_read, captioned, vocabulary)
