"""OpenStreetMap input: read features from any source, clean and phrase their tags."""

from rsvl.osm.exports import write_features
from rsvl.osm.readers import iter_features, list_formats, read_features
from rsvl.osm.tags import TagVocabulary, clean_tags, describe, phrases

__all__ = [
    "TagVocabulary",
    "clean_tags",
    "describe",
    "iter_features",
    "list_formats",
    "phrases",
    "read_features",
    "write_features",
]
