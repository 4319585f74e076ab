"""The certificate page's world map: country shapes projected once per process, coloured per page.

The shapes are the `geoJSON` of the per-country files of the `countryinfo` package (MIT;
`countryinfo/data/*.json`, read from the installed package), which come from
johan/world.geo.json, itself made from Natural Earth (public domain). Each country is projected
once (Equal Earth, Antarctica left out), simplified to what shows at the map's size and written
as one SVG path string with relative integer coordinates; a page only joins those strings,
choosing each country's class (`map-<level>`) from the levels it is recognized at. The shapes
are read on the first page that needs them (`load`, off the event loop), then kept.

Economies the shape set lacks are not drawn: small states and territories (Singapore, Hong
Kong, ...), and Hungary, Serbia, Montenegro, Myanmar and Jamaica, whose files in countryinfo
1.0.1 carry no shape. The page's table lists them, and the page names those it counts in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from markupsafe import Markup, escape

from ecolabel_registry.domain.model import Economy, Level
from ecolabel_registry.domain.operative import GroupIndex

__all__ = ["WorldMap", "country_levels", "load", "loaded"]

PACKAGE = "countryinfo"
WIDTH = 1000  # the viewBox's width; the map scales to the page's width
TOP, BOTTOM = 84.0, -57.0  # latitudes drawn: north of Greenland to south of Tierra del Fuego
TOLERANCE = 0.5  # simplification, in viewBox units (a unit is about 0.2 degree at the equator)
MIN_AREA = 2.0  # islands smaller than this (square units) are left out, not a country's largest
LEFT_OUT = frozenset({"AQ"})  # Antarctica: no economy, and most of the map's height

# Equal Earth (Šavrič, Patterson, Jenny 2018).
_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_M = math.sqrt(3) / 2


def _equal_earth(lon: float, lat: float) -> tuple[float, float]:
    theta = math.asin(_M * math.sin(math.radians(lat)))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = (
        math.radians(lon)
        * math.cos(theta)
        / (_M * (_A1 + 3 * _A2 * t2 + t6 * (7 * _A3 + 9 * _A4 * t2)))
    )
    y = theta * (_A1 + _A2 * t2 + t6 * (_A3 + _A4 * t2))
    return x, y


@dataclass(frozen=True, slots=True)
class Shape:
    """One country's outline: its ISO 3166-1 alpha-2 code, its name in the shape set and its
    SVG path data in the map's viewBox."""

    code: str
    name: str
    d: str


@dataclass(frozen=True, slots=True)
class WorldMap:
    """Every country the shape set draws, in code order, and the viewBox they fill."""

    shapes: tuple[Shape, ...]
    width: int
    height: int
    codes: frozenset[str]

    @property
    def viewbox(self) -> str:
        return f"0 0 {self.width} {self.height}"

    def paths(self, levels: Mapping[str, Level], names: Mapping[str, Economy]) -> Markup:
        """The map's path elements: a country at a level has the class `map-<level>`, every
        country a `<title>` with its name (the registry's, else the shape set's). Only the
        coloured countries' elements are made here; the others are kept as they are."""
        plain, tails, at = _titled(self, names)
        parts = list(plain)
        for code, level in levels.items():
            i = at.get(code)
            if i is not None:
                parts[i] = f'<path class="map-{level.value}"{tails[i]}'
        return Markup("".join(parts))


def country_levels(
    markets: Iterable[tuple[str, Level]], economies: Mapping[str, Economy], on: dt.date
) -> dict[str, Level]:
    """The strongest level in each country, from the levels of economies and groups on `on`:
    a group's level holds in each of its countries on that date (through member groups)."""
    groups = _groups(economies)
    levels: dict[str, Level] = {}
    for code, level in markets:
        countries = groups.countries_of(code, on) if groups.is_group(code) else (code,)
        for country in countries:
            held = levels.get(country)
            if held is None or level.strength > held.strength:
                levels[country] = level
    return levels


_lock = threading.Lock()
_map: WorldMap | None = None
_groups_kept: tuple[Mapping[str, Economy], GroupIndex] | None = None
# Per names mapping: the elements without a class, their tails, their index by code.
_Titled = tuple[tuple[str, ...], tuple[str, ...], dict[str, int]]
_titled_kept: tuple[Mapping[str, Economy], _Titled] | None = None


def loaded() -> WorldMap | None:
    """The map when its shapes have been read, else None (see `load`)."""
    return _map


def load() -> WorldMap:
    """The map, read from the installed package and projected on the first call, then kept."""
    global _map
    if _map is not None:
        return _map
    with _lock:
        if _map is None:
            _map = _project(_read_shapes())
        return _map


def _groups(economies: Mapping[str, Economy]) -> GroupIndex:
    """The groups of `economies`, indexed once for each economies mapping (one a revision)."""
    global _groups_kept
    kept = _groups_kept
    if kept is not None and kept[0] is economies:
        return kept[1]
    index = GroupIndex(economies)
    _groups_kept = (economies, index)
    return index


def _titled(world: WorldMap, names: Mapping[str, Economy]) -> _Titled:
    """Each shape's element without a class, the rest of it after `<path` and a class, and
    its index by code: made once for each names mapping (one a revision)."""
    global _titled_kept
    kept = _titled_kept
    if kept is not None and kept[0] is names:
        return kept[1]
    tails = []
    for shape in world.shapes:
        economy = names.get(shape.code)
        name = escape(shape.name if economy is None else economy.name)
        tails.append(f' d="{shape.d}"><title>{name}</title></path>')
    made = (
        tuple(f"<path{tail}" for tail in tails),
        tuple(tails),
        {shape.code: i for i, shape in enumerate(world.shapes)},
    )
    _titled_kept = (names, made)
    return made


def _read_shapes() -> list[tuple[str, str, list[Any]]]:
    """(code, name, polygons) of every country file of the package that has a shape."""
    found: dict[str, tuple[str, str, list[Any]]] = {}
    data = resources.files(PACKAGE).joinpath("data")
    for entry in sorted(data.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        country = json.loads(entry.read_text("utf-8"))
        code = (country.get("ISO") or {}).get("alpha2")
        shape = country.get("geoJSON") or {}
        if not code or code in LEFT_OUT or code in found or not shape.get("features"):
            continue
        polygons: list[Any] = []
        for feature in shape["features"]:
            geometry = feature["geometry"]
            if geometry["type"] == "Polygon":
                polygons.append(geometry["coordinates"])
            elif geometry["type"] == "MultiPolygon":
                polygons.extend(geometry["coordinates"])
        if polygons:
            found[code] = (code, str(country.get("name") or code), polygons)
    return [found[code] for code in sorted(found)]


def _project(countries: Iterable[tuple[str, str, list[Any]]]) -> WorldMap:
    x_edge = _equal_earth(180, 0)[0]
    y_top, y_bottom = _equal_earth(0, TOP)[1], _equal_earth(0, BOTTOM)[1]
    scale = WIDTH / (2 * x_edge)

    def point(lon: float, lat: float) -> tuple[float, float]:
        x, y = _equal_earth(lon, lat)
        return (x + x_edge) * scale, (y_top - y) * scale

    shapes = []
    for code, name, polygons in countries:
        rings = [[point(lon, lat) for lon, lat, *_ in ring] for poly in polygons for ring in poly]
        largest = max(rings, key=_area)
        d = "".join(
            _ring_path(ring, keep=ring is largest)
            for ring in rings
            if ring is largest or _area(ring) >= MIN_AREA
        )
        if d:
            shapes.append(Shape(code, name, d))
    height = math.ceil((y_top - y_bottom) * scale)
    return WorldMap(tuple(shapes), WIDTH, height, frozenset(s.code for s in shapes))


def _ring_path(ring: Sequence[tuple[float, float]], keep: bool) -> str:
    """One closed ring as `M x y l dx dy ... z` in whole units ("" when it vanishes, unless
    `keep`: a country's largest ring stays, however small)."""
    points: list[tuple[int, int]] = []
    for x, y in _simplified(ring, TOLERANCE):
        p = (round(x), round(y))
        if not points or p != points[-1]:
            points.append(p)
    if len(points) > 1 and points[-1] == points[0]:
        points.pop()
    if len(points) < 3 and not keep:
        return ""
    steps = " ".join(f"{x1 - x0} {y1 - y0}" for (x0, y0), (x1, y1) in itertools.pairwise(points))
    x, y = points[0]
    return f"M{x} {y}" + ("l" + steps.replace(" -", "-") if steps else "") + "z"


def _simplified(ring: Sequence[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    """Douglas-Peucker: the points of `ring` that keep it within `tolerance`."""
    if len(ring) < 3:
        return list(ring)
    keep = [False] * len(ring)
    keep[0] = keep[-1] = True
    stack = [(0, len(ring) - 1)]
    while stack:
        first, last = stack.pop()
        ax, ay = ring[first]
        dx, dy = ring[last][0] - ax, ring[last][1] - ay
        length = math.hypot(dx, dy)
        worst, at = -1.0, -1
        for i in range(first + 1, last):
            px, py = ring[i]
            if length:
                distance = abs(dx * (ay - py) - dy * (ax - px)) / length
            else:
                distance = math.hypot(px - ax, py - ay)
            if distance > worst:
                worst, at = distance, i
        if worst > tolerance:
            keep[at] = True
            stack += [(first, at), (at, last)]
    return [p for p, kept in zip(ring, keep, strict=True) if kept]


def _area(ring: Sequence[tuple[float, float]]) -> float:
    return (
        abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise([*ring, ring[0]])))
        / 2
    )
