"""The region's OSM XML: valid 0.6 structure, and readable by osmnx, GDAL/pyogrio and osmium."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import osmium
import osmnx
import pyogrio

from rsvl.synth import RegionInfo


def _tags(element: ET.Element) -> dict[str, str]:
    return {t.get("k", ""): t.get("v", "") for t in element.findall("tag")}


def test_structure_references_and_rings(small_region: RegionInfo) -> None:
    root = ET.parse(small_region.osm_path).getroot()
    assert root.tag == "osm" and root.get("version") == "0.6"
    nodes = root.findall("node")
    ways = root.findall("way")
    relations = root.findall("relation")
    assert len(nodes) > 1000 and len(ways) > 100 and relations
    # Elements come in OSM order: nodes, ways, relations, ids ascending within each type.
    kinds = [child.tag for child in root if child.tag != "bounds"]
    assert kinds == ["node"] * len(nodes) + ["way"] * len(ways) + ["relation"] * len(relations)
    for group in (nodes, ways, relations):
        ids = [int(e.get("id", "0")) for e in group]
        assert ids == sorted(ids) and len(set(ids)) == len(ids) and min(ids) > 0
        assert all(
            e.get("version", "").isdigit() and e.get("timestamp", "").endswith("Z") for e in group
        )
    node_ids = {n.get("id") for n in nodes}
    way_refs = {w.get("id"): [nd.get("ref") for nd in w.findall("nd")] for w in ways}
    for refs in way_refs.values():
        assert len(refs) >= 2 and all(ref in node_ids for ref in refs)
    for relation in relations:
        assert _tags(relation)["type"] == "multipolygon"
        members = relation.findall("member")
        roles = Counter(m.get("role") for m in members)
        assert roles["outer"] >= 1
        for member in members:
            refs = way_refs[member.get("ref")]
            assert refs[0] == refs[-1] and len(refs) >= 4, "multipolygon rings must be closed"
    assert any(m.get("role") == "inner" for r in relations for m in r.findall("member"))
    for way in ways:
        tags = _tags(way)
        if "building" in tags or "landuse" in tags:
            assert way_refs[way.get("id")][0] == way_refs[way.get("id")][-1]


def test_carries_visual_and_non_visual_tags(small_region: RegionInfo) -> None:
    root = ET.parse(small_region.osm_path).getroot()
    keys = Counter(k for e in root if e.tag in ("way", "relation") for k in _tags(e))
    for key in (
        "building",
        "roof:shape",
        "building:levels",
        "highway",
        "surface",
        "landuse",
        "natural",
        "leisure",
        "amenity",
        "aeroway",
        "railway",
        "waterway",
    ):
        assert keys[key] > 0, key
    for key in ("name", "source", "addr:street", "addr:housenumber"):
        assert keys[key] > 0, key


def test_osmnx_reads_polygons_and_relations(small_region: RegionInfo) -> None:
    tags = {"landuse": True, "natural": True, "leisure": True, "building": True, "highway": True}
    gdf = osmnx.features_from_xml(small_region.osm_path, tags=tags)
    kinds = set(gdf.index.get_level_values(0))
    assert {"way", "relation"} <= kinds
    relations = gdf.loc["relation"]
    assert (relations.geometry.interiors.map(len) > 0).any(), "some multipolygon has an inner hole"
    assert set(gdf["landuse"].dropna()) >= {"farmland", "forest", "residential", "cemetery"}
    assert (gdf["building"] == "house").any()


def test_pyogrio_reads_layers(small_region: RegionInfo) -> None:
    polygons = pyogrio.read_dataframe(small_region.osm_path, layer="multipolygons")
    lines = pyogrio.read_dataframe(small_region.osm_path, layer="lines")
    assert {"farmland", "meadow", "forest"} <= set(polygons["landuse"].dropna())
    assert (polygons["natural"] == "water").any() and (polygons["aeroway"] == "runway").any()
    assert {"motorway", "primary", "residential", "track"} <= set(lines["highway"].dropna())
    assert (lines["railway"] == "rail").any() and (lines["waterway"] == "river").any()


def test_osmium_reads_every_element(small_region: RegionInfo) -> None:
    counts: Counter[str] = Counter()
    buildings = 0
    for obj in osmium.FileProcessor(str(small_region.osm_path)):
        counts[obj.type_str()] += 1
        buildings += "building" in obj.tags
    root = ET.parse(small_region.osm_path).getroot()
    assert counts["n"] == len(root.findall("node"))
    assert counts["w"] == len(root.findall("way"))
    assert counts["r"] == len(root.findall("relation"))
    assert buildings > 0
