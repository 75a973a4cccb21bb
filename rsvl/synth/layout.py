"""Lay out the synthetic region: parcels of land use, a town, water, roads, railway, airfield.

The region is a jittered lattice of cells (a field pattern). Cells near the town centre become
urban blocks (houses, apartments, commercial, retail, industrial, parks, a cemetery, sports
grounds); the others are split into rural parcels whose land cover is dealt out with quotas so
that every class appears in several parcels spread over the region. Roads run along lattice
edges, a primary cross and a motorway along lattice lines, a railway along a column, a river
meanders across, lakes (one with an island, each with a beach) sit in rural parcels, some
forests have clearings, and an airfield occupies one corner. Everything is laid out in local
metres (origin at the region's south-west corner) and shifted into the CRS at the end.
"""

from __future__ import annotations

import math

import numpy as np
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from rsvl.synth import buildings
from rsvl.synth.scene import Feature, RegionGrid, class_feature

RURAL_WEIGHTS: dict[str, float] = {
    "farmland": 0.26,
    "meadow": 0.13,
    "forest": 0.13,
    "wood": 0.08,
    "orchard": 0.08,
    "vineyard": 0.08,
    "wetland": 0.08,
    "bare_rock": 0.08,
    "golf_course": 0.08,
}
URBAN_WEIGHTS: dict[str, float] = {
    "houses": 0.4,
    "apartments": 0.1,
    "industrial": 0.07,
    "commercial": 0.1,
    "retail": 0.08,
    "park": 0.09,
    "cemetery": 0.06,
    "sports": 0.07,
    "stadium": 0.05,
}
MIN_PARCELS_PER_CLASS = 3
SPLIT_MIN_SPACING_M = 120.0
LAKE_HOSTS = ("meadow", "farmland", "wetland", "wood")
TRACK_SURFACES = ("unpaved", "gravel", "dirt", "grass", "compacted")


def _axis_angle(polygon: BaseGeometry) -> float:
    """Direction of the long side of the polygon's minimum rotated rectangle."""
    corners = np.asarray(polygon.minimum_rotated_rectangle.exterior.coords)[:4]
    sides = np.diff(np.vstack([corners, corners[:1]]), axis=0)
    longest = sides[np.argmax(np.hypot(sides[:, 0], sides[:, 1]))]
    return math.atan2(longest[1], longest[0]) % math.pi


def _blob(rng: np.random.Generator, centre: Point, radius: float, wobble: float = 0.22) -> Polygon:
    """A lake- or clearing-like closed shape: a circle with smooth radial wobble."""
    theta = np.linspace(0.0, 2 * math.pi, 48, endpoint=False)
    r = np.ones_like(theta)
    for harmonic in (2, 3, 5):
        r += (
            wobble
            / harmonic
            * rng.uniform(0.5, 1.0)
            * np.cos(harmonic * theta + rng.uniform(0, 6.3))
        )
    coords = np.column_stack(
        [centre.x + radius * r * np.cos(theta), centre.y + radius * r * np.sin(theta)]
    )
    return Polygon(coords)


def _largest(geometry: BaseGeometry) -> Polygon | None:
    """The largest polygon of a (multi)polygon result, or None when empty."""
    parts = [
        g
        for g in getattr(geometry, "geoms", [geometry])
        if isinstance(g, Polygon) and not g.is_empty
    ]
    return max(parts, key=lambda g: g.area) if parts else None


def _deal(
    rng: np.random.Generator, count: int, weights: dict[str, float], minimum: int
) -> list[str]:
    """``count`` shuffled roles: each at least ``minimum`` times (room allowing), rest by weight."""
    names = list(weights)
    floor = min(minimum, count // len(names))
    roles = [name for name in names for _ in range(floor)]
    p = np.array([weights[n] for n in names])
    roles += list(rng.choice(names, size=count - len(roles), p=p / p.sum()))
    order = rng.permutation(len(roles))
    return [str(roles[i]) for i in order]


class _Layout:
    """Builds the feature list step by step; ``features`` is the result."""

    def __init__(self, seed: int, grid: RegionGrid) -> None:
        self.rng = np.random.default_rng([seed, 7919])
        self.size = grid.size_m
        self.features: list[Feature] = []
        size = self.size
        self.spacing_target = float(np.clip(size / 9.0, 60.0, 220.0))
        self.n = max(3, int(round(size / self.spacing_target)))
        self.spacing = size / self.n
        ticks = np.arange(-1, self.n + 2) * self.spacing
        gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
        jitter = self.rng.uniform(-0.16, 0.16, size=gx.shape + (2,)) * self.spacing
        self.vertices = np.stack([gx, gy], axis=-1) + jitter
        self.town = Point(*(size * (np.array([0.55, 0.45]) + self.rng.uniform(-0.05, 0.05, 2))))
        self.urban_radius = 0.28 * size
        self.k = self.vertices.shape[0]  # vertices per axis
        self.shore_m = min(12.0, 0.12 * self.spacing)  # margin around lakes and clearings

    # lattice helpers -------------------------------------------------------------------------
    def cell(self, i: int, j: int) -> Polygon:
        v = self.vertices
        return Polygon([v[i, j], v[i + 1, j], v[i + 1, j + 1], v[i, j + 1]])

    def nearest_index(self, coordinate: float) -> int:
        return int(np.clip(round(coordinate / self.spacing) + 1, 1, self.k - 2))

    def inside_region(self, geometry: BaseGeometry) -> bool:
        c = geometry.centroid
        return 0.0 <= c.x <= self.size and 0.0 <= c.y <= self.size

    # stages --------------------------------------------------------------------------------
    def build(self) -> list[Feature]:
        self.lines()
        self.airfield()
        urban, rural = self.classify_cells()
        self.urban_blocks(urban)
        self.rural_parcels(rural)
        self.road_network(urban)
        return self.features

    def lines(self) -> None:
        """Motorway, primary cross, railway and river: the region's long features."""
        size, rng = self.size, self.rng
        self.row_motorway = self.nearest_index(0.1 * size)
        self.row_primary = self.nearest_index(self.town.y)
        self.col_primary = self.nearest_index(self.town.x)
        self.col_railway = min(self.nearest_index(self.town.x + 0.2 * size), self.k - 2)
        if self.col_railway == self.col_primary:
            self.col_railway += 1
        v = self.vertices
        self.motorway = LineString(v[:, self.row_motorway])
        self.primary = [LineString(v[:, self.row_primary]), LineString(v[self.col_primary, :])]
        self.railway = LineString(v[self.col_railway, :])
        x = np.linspace(-self.spacing, size + self.spacing, 90)
        phase = rng.uniform(0, 2 * math.pi, 2)
        y = 0.25 * size + 0.04 * size * np.sin(2 * math.pi * x / (0.7 * size) + phase[0])
        y += 0.015 * size * np.sin(2 * math.pi * x / (0.23 * size) + phase[1])
        self.river_line = LineString(np.column_stack([x, y]))
        self.river_width = float(np.clip(0.014 * size, 10.0, 36.0))
        self.river = self.river_line.buffer(self.river_width / 2)
        self.features.append(Feature(self.river_line, "", {"waterway": "river"}))
        self.features.append(class_feature("water", self.river, 0.0, water="river"))
        self.features += [
            class_feature("motorway", self.motorway, surface="asphalt", lanes="4", ref="A 9"),
            *(class_feature("primary_road", line, surface="asphalt") for line in self.primary),
            class_feature(
                "railway", self.railway, gauge="1435", electrified="contact_line", usage="main"
            ),
        ]
        self.keepout: BaseGeometry = self.river.buffer(8.0).union(self.railway.buffer(8.0))

    def airfield(self) -> None:
        """Two parallel runways in the north-west corner, away from the town."""
        size, rng = self.size, self.rng
        angle = math.radians(-45.0 + rng.uniform(-10, 10))
        centre = np.array([0.2, 0.8]) * size
        length, width = 0.3 * size, float(np.clip(0.012 * size, 15.0, 45.0))
        normal = np.array([-math.sin(angle), math.cos(angle)])
        runways = []
        for offset, scale, surface in ((0.0, 1.0, "asphalt"), (3.5 * width, 0.7, "grass")):
            c = centre + normal * offset
            rect = affinity.rotate(
                box(-length * scale / 2, -width / 2, length * scale / 2, width / 2),
                angle,
                origin=(0, 0),
                use_radians=True,
            )
            rect = affinity.translate(rect, c[0], c[1])
            heading = round(((90 - math.degrees(angle)) % 180) / 10) or 18
            ref = f"{heading:02d}/{heading + 18:02d}"
            runways.append(rect)
            self.features.append(class_feature("runway", rect, angle, surface=surface, ref=ref))
        self.airfield_zone: BaseGeometry = runways[0].union(runways[1]).buffer(40.0)

    def classify_cells(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        urban, rural = [], []
        for i in range(self.k - 1):
            for j in range(self.k - 1):
                cell = self.cell(i, j)
                near_town = cell.centroid.distance(self.town) < self.urban_radius
                if near_town and not cell.intersects(self.airfield_zone):
                    urban.append((i, j))
                else:
                    rural.append((i, j))
        self.urban_cells = set(urban)
        return urban, rural

    def urban_blocks(self, cells: list[tuple[int, int]]) -> None:
        """Urban cells, halved by a street where large enough, become blocks of dealt types."""
        blocks: list[Polygon] = []
        for i, j in cells:
            cell = self.cell(i, j)
            if self.spacing < SPLIT_MIN_SPACING_M:
                blocks.append(cell)
                continue
            halves = self.split(cell)
            blocks.extend(halves)
            street = halves[0].intersection(halves[1])
            self.features.append(
                class_feature("residential_road", LineString(street.coords), surface="asphalt")
            )
        inner = [k for k, block in enumerate(blocks) if self.inside_region(block)]
        roles = dict(
            zip(
                inner,
                _deal(self.rng, len(inner), URBAN_WEIGHTS, MIN_PARCELS_PER_CLASS),
                strict=True,
            )
        )
        for k, block in enumerate(blocks):
            offset = np.array([block.centroid.x - self.town.x, block.centroid.y - self.town.y])
            core = np.hypot(*offset) < 0.3 * self.urban_radius
            eastward = offset[0] > 0.3 * self.urban_radius and abs(offset[1]) < 0.7 * offset[0]
            role = roles.get(k, "houses")
            if eastward and role in ("houses", "apartments"):
                role = "industrial"
            elif core and role == "houses":
                role = "apartments"
            self.features.extend(
                buildings.urban_block(self.rng, role, block, _axis_angle(block), self.keepout)
            )

    def rural_parcels(self, cells: list[tuple[int, int]]) -> None:
        parcels: list[Polygon] = []
        for i, j in cells:
            cell = self.cell(i, j)
            if cell.intersects(self.airfield_zone):
                parcels.append(cell)
                continue
            # Small regions keep whole cells: halves would be too narrow for lakes or clearings.
            parcels.extend(self.split(cell) if self.spacing >= SPLIT_MIN_SPACING_M else [cell])
        inner = [
            k
            for k, p in enumerate(parcels)
            if self.inside_region(p) and not p.intersects(self.airfield_zone)
        ]
        roles = dict(
            zip(
                inner,
                _deal(self.rng, len(inner), RURAL_WEIGHTS, MIN_PARCELS_PER_CLASS),
                strict=True,
            )
        )
        names = list(RURAL_WEIGHTS)
        weights = np.array([RURAL_WEIGHTS[n] for n in names])
        lake_budget = max(3, len(inner) // 14)
        clearing_turn = 0
        for index, parcel in enumerate(parcels):
            if parcel.intersects(self.airfield_zone):
                role = "meadow"
            else:
                role = roles.get(index) or str(self.rng.choice(names, p=weights / weights.sum()))
            angle = _axis_angle(parcel) + (math.pi / 2 if self.rng.random() < 0.5 else 0.0)
            shape: BaseGeometry = parcel
            if lake_budget and role in LAKE_HOSTS and index in roles and self.lake_fits(parcel):
                lake_budget -= 1
                shape = self.lake(parcel)
            elif role == "forest":
                clearing_turn += 1
                if clearing_turn % 2:
                    shape = self.clearing(parcel)
            self.features.append(class_feature(role, shape, angle, **self.cover_tags(role)))

    def cover_tags(self, role: str) -> dict[str, str]:
        extra = {
            "forest": {"leaf_type": "needleleaved"},
            "wood": {"leaf_type": "broadleaved"},
            "wetland": {"wetland": str(self.rng.choice(["marsh", "reedbed", "wet_meadow"]))},
            "vineyard": {"crop": "grape"},
        }
        return extra.get(role, {})

    def split(self, cell: Polygon) -> list[Polygon]:
        """Cut a lattice cell into two fields across its longer direction."""
        p = np.asarray(cell.exterior.coords)[:4]
        t, s = self.rng.uniform(0.35, 0.65, 2)
        if np.hypot(*(p[1] - p[0])) >= np.hypot(*(p[3] - p[0])):
            a, b = p[0] + t * (p[1] - p[0]), p[3] + s * (p[2] - p[3])
            return [Polygon([p[0], a, b, p[3]]), Polygon([a, p[1], p[2], b])]
        a, b = p[0] + t * (p[3] - p[0]), p[1] + s * (p[2] - p[1])
        return [Polygon([p[0], p[1], b, a]), Polygon([a, b, p[2], p[3]])]

    def lake_fits(self, parcel: Polygon) -> bool:
        room = parcel.buffer(-self.shore_m)
        return (
            not room.is_empty
            and not parcel.intersects(self.river.buffer(40.0))
            and room.area > 0.35 * parcel.area
        )

    def lake(self, parcel: Polygon) -> BaseGeometry:
        """Put a lake (with a beach; the first big one with a wooded island) into ``parcel``."""
        room = parcel.buffer(-self.shore_m)
        centre = room.representative_point()
        radius = 0.5 * math.sqrt(room.area / math.pi)
        lake = _blob(self.rng, centre, radius).intersection(room)
        lake = _largest(lake) or _blob(self.rng, centre, 4.0)
        beach_width = float(np.clip(0.18 * radius, 6.0, 22.0))
        direction = self.rng.uniform(0, 2 * math.pi)
        wedge = Polygon(
            [
                (centre.x, centre.y),
                (
                    centre.x + 4 * radius * math.cos(direction - 1.0),
                    centre.y + 4 * radius * math.sin(direction - 1.0),
                ),
                (
                    centre.x + 4 * radius * math.cos(direction + 1.0),
                    centre.y + 4 * radius * math.sin(direction + 1.0),
                ),
            ]
        )
        beach = _largest(
            # kept off the parcel's edge so the parcel's hole never touches its outer ring
            lake.buffer(beach_width)
            .difference(lake)
            .intersection(wedge)
            .intersection(parcel.buffer(-2.0))
        )
        water_tags = {"water": "lake" if radius > 30 else "pond"}
        if radius > 30 and not getattr(self, "has_island", False):
            self.has_island = True
            island = _blob(self.rng, centre, 0.28 * radius, wobble=0.3).intersection(
                lake.buffer(-3.0)
            )
            island = _largest(island) or _blob(self.rng, centre, 3.0)
            lake = lake.difference(island)
            self.features.append(
                class_feature("wood", island, _axis_angle(island), leaf_type="broadleaved")
            )
        self.features.append(class_feature("water", lake, 0.0, **water_tags))
        taken: BaseGeometry = Polygon(lake.exterior)
        if beach is not None:
            self.features.append(class_feature("beach", beach, _axis_angle(beach), surface="sand"))
            taken = taken.union(beach)
        # Grown then shrunk: pinched hole outlines would cross themselves once shifted into the CRS.
        outline = _largest(taken.buffer(1.0).buffer(-0.5)) or _largest(taken) or lake
        hole = Polygon(outline.exterior)
        return _largest(parcel.difference(hole)) or parcel

    def clearing(self, parcel: Polygon) -> BaseGeometry:
        """Cut a meadow clearing out of a forest parcel (a multipolygon with an inner ring)."""
        room = parcel.buffer(-self.shore_m)
        if room.is_empty or room.area < 0.3 * parcel.area:
            return parcel
        radius = 0.3 * math.sqrt(room.area / math.pi)
        opening = _largest(_blob(self.rng, room.representative_point(), radius).intersection(room))
        if opening is None or not room.contains(opening):
            return parcel
        self.features.append(class_feature("meadow", opening, _axis_angle(opening)))
        return parcel.difference(opening)

    def road_network(self, urban: list[tuple[int, int]]) -> None:
        """Residential streets around urban blocks; farm tracks along some rural edges."""
        special_rows = {self.row_motorway, self.row_primary}
        special_cols = {self.col_primary, self.col_railway}
        v = self.vertices
        for i in range(self.k - 1):
            for j in range(self.k):
                if j not in special_rows:
                    self.edge_road(LineString([v[i, j], v[i + 1, j]]), [(i, j - 1), (i, j)])
        for i in range(self.k):
            for j in range(self.k - 1):
                if i not in special_cols:
                    self.edge_road(LineString([v[i, j], v[i, j + 1]]), [(i - 1, j), (i, j)])

    def edge_road(self, line: LineString, neighbours: list[tuple[int, int]]) -> None:
        if any(cell in self.urban_cells for cell in neighbours):
            self.features.append(class_feature("residential_road", line, surface="asphalt"))
        elif self.rng.random() < 0.35 and not line.intersects(self.airfield_zone):
            surface = str(self.rng.choice(TRACK_SURFACES))
            grade = f"grade{self.rng.integers(2, 5)}"
            self.features.append(class_feature("track", line, surface=surface, tracktype=grade))


def layout_region(seed: int, grid: RegionGrid) -> list[Feature]:
    """All features of the region for ``seed``, in the grid's CRS (metres).

    Args:
        seed: random seed; the same seed and grid give the same features.
        grid: the region's extent (features extend one lattice cell beyond it).
    """
    features = _Layout(seed, grid).build()
    for feature in features:
        feature.geometry = affinity.translate(feature.geometry, grid.west, grid.south)
    return features
