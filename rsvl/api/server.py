"""``rsvl search serve``: a local web page to search an index on a map.

A Flask app over one :class:`rsvl.api.ImageIndex`:

- ``GET /``: the page (``static/index.html``, ``search.js``, ``search.css`` and Leaflet, all
  served from the package, so it works offline);
- ``GET /api/info``: the index (name, count, model, footprint bounds, basemap tiles);
- ``POST /api/search``: JSON ``{"text"?, "id"?, "positives"?, "negatives"?, "near"?: [lon, lat,
  radius_m], "within"?: GeoJSON, "k"?}`` -> ``{"results": [{rank, score, id, key, caption,
  geometry (GeoJSON, EPSG:4326)}]}``; ``id`` searches by that result's own embedding
  (click-to-search-similar), positives/negatives refine the query (Rocchio);
- ``GET /api/chip/<id>.png``: a thumbnail of a result (image file, shard member or imagery
  window);
- ``GET /tiles/<z>/<x>/<y>.<ext>``: the user's own ``{z}/{x}/{y}`` tile folder, when given.

Mistakes (a bad id, an unknown polygon...) come back as ``400 {"error": "one line"}``.
"""

from __future__ import annotations

import io
import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rsvl.api.index import ImageIndex
from rsvl.errors import ConfigError, InputError, RsvlError

STATIC = Path(__file__).resolve().parent / "static"
DEFAULT_PORT = 8765
MAX_K = 200
THUMBNAIL_PX = 160
# Thumbnails kept in memory (PNG bytes, a few tens of KB each).
THUMBNAIL_CACHE = 1024
TILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def create_app(index: ImageIndex, tiles: str | Path | None = None,
               thumbnail_px: int = THUMBNAIL_PX) -> Any:
    """The Flask app serving ``index``.

    Args:
        index: The index to search (text queries load its model on first use).
        tiles: Basemap: a ``{z}/{x}/{y}`` tile folder, or a URL template such as
            ``http://localhost:8080/{z}/{x}/{y}.png``; None: a plain background.
        thumbnail_px: Side of the result thumbnails.
    """
    try:
        from flask import Flask, jsonify, request, send_from_directory
    except ImportError:
        raise ConfigError("the search page needs Flask: pip install 'rsvl[serve]'") from None

    app = Flask("rsvl.api.server", static_folder=str(STATIC), static_url_path="/static")
    basemap, tile_folder = _basemap(tiles)
    info = _info(index, basemap)
    lock = threading.Lock()  # one search at a time: the model and backends are not shared-safe

    @lru_cache(maxsize=THUMBNAIL_CACHE)
    def thumbnail(row_id: int) -> bytes:
        from rsvl.api.display import result_image

        image = result_image(index.metadata.iloc[row_id], size=thumbnail_px, crs=index.crs)
        image.thumbnail((thumbnail_px, thumbnail_px))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
        return buffer.getvalue()

    @app.errorhandler(RsvlError)
    def user_error(error: RsvlError) -> Any:
        return jsonify(error=str(error)), 400

    @app.get("/")
    def page() -> Any:
        return send_from_directory(STATIC, "index.html")

    @app.get("/api/info")
    def api_info() -> Any:
        return jsonify(info)

    @app.post("/api/search")
    def api_search() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ConfigError("send the search as a JSON object, e.g. {\"text\": \"a field\"}")
        options = search_options(index, body)
        with lock:
            results = index.search(**options)
        return jsonify(results=result_rows(results))

    @app.get("/api/chip/<int:row_id>.png")
    def api_chip(row_id: int) -> Any:
        _check_id(index, row_id, "chip")
        try:
            data = thumbnail(row_id)
        except RsvlError as error:
            return jsonify(error=str(error)), 404
        return app.response_class(data, mimetype="image/png",
                                  headers={"Cache-Control": "max-age=3600"})

    if tile_folder is not None:
        @app.get("/tiles/<int:z>/<int:x>/<int:y>.<ext>")
        def tile(z: int, x: int, y: int, ext: str) -> Any:
            return send_from_directory(tile_folder, f"{z}/{x}/{y}.{ext}")

    return app


def search_options(index: ImageIndex, body: dict[str, Any]) -> dict[str, Any]:
    """:meth:`ImageIndex.search` keyword arguments from a JSON search request."""
    k = body.get("k", 10)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    options: dict[str, Any] = {"k": k}
    text, row_id = body.get("text"), body.get("id")
    if text not in (None, "") and row_id is not None:
        raise ConfigError("give either text or id (search similar), not both")
    if isinstance(text, str) and text.strip():
        options["text"] = text.strip()
    elif text not in (None, ""):
        raise ConfigError(f"text must be a string, got {text!r}")
    if row_id is not None:
        _check_id(index, row_id, "id")
        options["query"] = np.asarray(index.embeddings[row_id], dtype=np.float32)
    for name in ("positives", "negatives"):
        ids = body.get(name) or []
        if not isinstance(ids, list):
            raise ConfigError(f"{name} must be a list of result ids")
        for value in ids:
            _check_id(index, value, name[:-1])
        options[name] = [int(value) for value in ids]
    near = body.get("near")
    if near is not None:
        if (not isinstance(near, list) or len(near) != 3
                or not all(isinstance(v, int | float) for v in near)):
            raise ConfigError("near takes [lon, lat, radius_m]")
        options["near"] = tuple(float(v) for v in near)
    if body.get("within") is not None:
        options["within"] = body["within"]  # GeoJSON geometry, Feature or FeatureCollection
        if not isinstance(options["within"], dict):
            raise ConfigError("within takes a GeoJSON geometry object")
    return options


def result_rows(results: Any) -> list[dict[str, Any]]:
    """Search results as JSON-ready rows, footprints as GeoJSON in EPSG:4326."""
    from shapely.geometry import mapping

    footprints: list[Any] = [None] * len(results)
    if getattr(results, "crs", None) is not None and len(results):
        footprints = [None if g is None or g.is_empty else mapping(g)
                      for g in results.geometry.to_crs("EPSG:4326")]
    rows = []
    for (_, row), footprint in zip(results.iterrows(), footprints, strict=True):
        score = float(row["score"])
        rows.append({"rank": int(row["rank"]), "id": int(row["id"]),
                     "score": None if math.isnan(score) else round(score, 6),
                     "key": str(row.get("key", row["id"])),
                     "caption": _text(row.get("caption")), "geometry": footprint})
    return rows


def serve(index: ImageIndex, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          tiles: str | Path | None = None) -> None:
    """Serve ``index`` until interrupted (Ctrl+C); port 0 picks a free port."""
    server = make_server(index, host, port, tiles)
    print(f"serving {index.name} ({len(index)} images) at "
          f"http://{host}:{server.server_port}/ (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def make_server(index: ImageIndex, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                tiles: str | Path | None = None) -> Any:
    """A threaded Werkzeug server for :func:`create_app` (``.serve_forever()``, ``.shutdown()``)."""
    from werkzeug.serving import make_server as werkzeug_server

    app = create_app(index, tiles)
    try:
        return werkzeug_server(host, port, app, threaded=True)
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror}); "
                          "pick another --port (0: any free port)") from None
    except SystemExit:  # Werkzeug exits when the port is taken
        raise ConfigError(f"port {port} on {host} is in use; pick another --port "
                          "(0: any free port)") from None


def _basemap(tiles: str | Path | None) -> tuple[dict[str, Any] | None, Path | None]:
    """The page's tile layer (URL template, zoom range) and the folder to serve, if any."""
    if tiles is None:
        return None, None
    text = str(tiles)
    if "{z}" in text and "{x}" in text and "{y}" in text:
        return {"url": text, "max_zoom": 22}, None
    folder = Path(tiles)
    if not folder.is_dir():
        raise InputError(f"--tiles {tiles}: not a {{z}}/{{x}}/{{y}} tile folder nor a URL "
                         "template with {z}, {x} and {y}")
    zooms = sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    sample = next((p for z in zooms for p in (folder / str(z)).glob("*/*")
                   if p.suffix.lower() in TILE_SUFFIXES), None)
    if sample is None:
        raise InputError(f"--tiles {folder} holds no {{z}}/{{x}}/{{y}} tiles "
                         f"({', '.join(TILE_SUFFIXES)})")
    return ({"url": f"/tiles/{{z}}/{{x}}/{{y}}{sample.suffix}", "min_zoom": zooms[0],
             "max_zoom": zooms[-1]}, folder.resolve())


def _info(index: ImageIndex, basemap: dict[str, Any] | None) -> dict[str, Any]:
    bounds = None
    if index.crs is not None and len(index):
        import geopandas as gpd
        from shapely.geometry import box

        # Transform the bounding box, not every footprint: cheap at any index size.
        total = gpd.GeoSeries([box(*index.metadata.total_bounds)], crs=index.crs)
        west, south, east, north = total.to_crs("EPSG:4326").total_bounds
        bounds = [[float(south), float(west)], [float(north), float(east)]]
    return {"name": Path(index.name).name, "count": len(index),
            "model": index.model_info.get("spec"), "bounds": bounds, "basemap": basemap,
            "max_k": MAX_K}


def _check_id(index: ImageIndex, value: Any, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(index):
        raise ConfigError(f"{what} {value!r} is not a result id of this index "
                          f"(0..{len(index) - 1})")


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)
