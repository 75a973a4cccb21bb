"""Captions from OSM tags: SkyScript-style templates kept as data, seeded."""

from rsvl.captions.templates import get_template_set, list_template_sets, make_captions

__all__ = ["get_template_set", "list_template_sets", "make_captions"]
