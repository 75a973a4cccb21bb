"""Write ``edge_cases.osm``: a tiny OSM XML file around (0, 0) covering the reader's edge cases.

Run ``python tests/data/osm_edge_cases/data.py`` to regenerate it (no randomness: every
coordinate is written out). Cases, with the lon/lat test box (0, 0, 0.002, 0.002):
- node/1 bench inside the box; node/6 viewpoint outside it; untagged nodes (way members only);
- way/10 open residential road crossing the box's east edge (a LineString, kept whole);
- way/11 closed building (Polygon); way/12 closed footway ring (stays a LineString);
- way/13 closed pedestrian street with area=yes (Polygon);
- relation/100 multipolygon grass with an outer way/20 and an inner way/21 (Polygon with a hole);
- relation/200 a route (no area: not a feature).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

NODES = {
    # id: (lon, lat, tags)
    1: (0.0010, 0.0010, {"amenity": "bench"}),
    2: (0.0010, 0.0015, {}),
    3: (0.0020, 0.0015, {}),
    4: (0.0030, 0.0015, {}),
    6: (0.0100, 0.0100, {"tourism": "viewpoint", "name": "Outside"}),
    # building square
    31: (0.0002, 0.0002, {}),
    32: (0.0006, 0.0002, {}),
    33: (0.0006, 0.0006, {}),
    34: (0.0002, 0.0006, {}),
    # footway ring
    41: (0.0012, 0.0002, {}),
    42: (0.0016, 0.0002, {}),
    43: (0.0016, 0.0006, {}),
    # pedestrian area
    51: (0.0012, 0.0008, {}),
    52: (0.0016, 0.0008, {}),
    53: (0.0016, 0.0012, {}),
    # multipolygon outer and inner rings
    61: (-0.0010, -0.0010, {}),
    62: (-0.0001, -0.0010, {}),
    63: (-0.0001, -0.0001, {}),
    64: (-0.0010, -0.0001, {}),
    71: (-0.0007, -0.0007, {}),
    72: (-0.0004, -0.0007, {}),
    73: (-0.0004, -0.0004, {}),
    74: (-0.0007, -0.0004, {}),
}
WAYS = {
    10: ([2, 3, 4], {"highway": "residential", "surface": "asphalt", "name": "Edge Street"}),
    11: ([31, 32, 33, 34, 31], {"building": "house", "roof:shape": "gabled"}),
    12: ([41, 42, 43, 41], {"highway": "footway"}),
    13: ([51, 52, 53, 51], {"highway": "pedestrian", "area": "yes"}),
    20: ([61, 62, 63, 64, 61], {}),
    21: ([71, 72, 73, 74, 71], {}),
}
RELATIONS = {
    100: (
        [("way", 20, "outer"), ("way", 21, "inner")],
        {"type": "multipolygon", "landuse": "grass"},
    ),
    200: ([("way", 10, "")], {"type": "route", "route": "bus"}),
}


def _tags(tags: dict[str, str], indent: str) -> str:
    return "".join(f'{indent}<tag k="{key}" v="{value}"/>\n' for key, value in tags.items())


def osm_xml() -> str:
    """The fixture's text."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="rsvl tests">\n']
    for node_id, (lon, lat, tags) in NODES.items():
        head = f'  <node id="{node_id}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"'
        lines.append(f"{head}>\n{_tags(tags, '    ')}  </node>\n" if tags else f"{head}/>\n")
    for way_id, (refs, tags) in WAYS.items():
        members = "".join(f'    <nd ref="{ref}"/>\n' for ref in refs)
        lines.append(f'  <way id="{way_id}" version="1">\n{members}{_tags(tags, "    ")}  </way>\n')
    for relation_id, (members, tags) in RELATIONS.items():
        body = "".join(
            f'    <member type="{kind}" ref="{ref}" role="{role}"/>\n'
            for kind, ref, role in members
        )
        tag_lines = _tags(tags, "    ")
        lines.append(
            f'  <relation id="{relation_id}" version="1">\n{body}{tag_lines}  </relation>\n'
        )
    lines.append("</osm>\n")
    return "".join(lines)


def main() -> None:
    path = Path(__file__).with_name("edge_cases.osm")
    path.write_text(osm_xml(), encoding="utf-8")
    print(path.name, hashlib.sha256(path.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
