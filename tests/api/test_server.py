"""The search page: its JSON API, the command, and a real headless Chromium driving the page."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rsvl.api import ImageIndex, RsvlModel
from rsvl.api.server import create_app, make_server
from rsvl.errors import InputError

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver"


@pytest.fixture()
def parquet_index(micro_model: RsvlModel, geotiff16: Path, tmp_path: Path) -> Path:
    """16 chips of 160 m over the 640 m GeoTIFF, written as embedding GeoParquet."""
    index = ImageIndex.from_raster(micro_model, geotiff16, chip_size_m=160, progress=False)
    return index.to_geoparquet(tmp_path / "chips.parquet")


@pytest.fixture()
def client(parquet_index: Path, micro_model: RsvlModel) -> Any:
    return create_app(ImageIndex.load(parquet_index, model=micro_model)).test_client()


def test_text_search_returns_footprints_in_lonlat(client: Any) -> None:
    info = client.get("/api/info").get_json()
    assert info["count"] == 16 and info["model"] == "rsvl-micro" and info["basemap"] is None
    (south, west), (north, east) = info["bounds"]
    assert 14.99 < west < east < 15.01 and 40.6 < south < north < 40.7  # UTM 33N, 500 km E
    response = client.post("/api/search", json={"text": "a field", "k": 5})
    results = response.get_json()["results"]
    assert response.status_code == 200 and [r["rank"] for r in results] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert results[0]["geometry"]["type"] == "Polygon"
    lon, lat = results[0]["geometry"]["coordinates"][0][0]
    assert west - 1e-9 <= lon <= east + 1e-9 and south - 1e-9 <= lat <= north + 1e-9


def test_search_similar_refine_and_filters(client: Any) -> None:
    similar = client.post("/api/search", json={"id": 7, "k": 3}).get_json()["results"]
    assert similar[0]["id"] == 7 and similar[0]["score"] == pytest.approx(1.0, abs=1e-5)
    plain = client.post("/api/search", json={"text": "a field", "k": 16}).get_json()["results"]
    last = plain[-1]["id"]
    refined = client.post("/api/search", json={"text": "a field", "k": 16, "positives": [last],
                                               "negatives": [plain[0]["id"]]})
    order = [r["id"] for r in refined.get_json()["results"]]
    assert order.index(last) < 15  # the positive moved up from last place
    corner = plain[0]["geometry"]
    inside = client.post("/api/search", json={"text": "a field", "k": 16, "within": corner})
    assert plain[0]["id"] in {r["id"] for r in inside.get_json()["results"]}
    assert len(inside.get_json()["results"]) < 16
    lon, lat = corner["coordinates"][0][0]
    near = client.post("/api/search", json={"near": [lon, lat, 1.0], "k": 16})
    assert 1 <= len(near.get_json()["results"]) <= 4  # chips touching that corner


@pytest.mark.parametrize(("body", "message"), [
    ({"id": 16}, "id 16 is not a result id of this index (0..15)"),
    ({"text": "x", "id": 1}, "give either text or id"),
    ({"text": "x", "k": 0}, "k must be an integer from 1 to 200"),
    ({"text": "x", "positives": [99]}, "positive 99 is not a result id"),
    ({"negatives": [1]}, "give a text or image query, positives, or a place"),
    ({"text": "x", "near": [1, 2]}, "near takes [lon, lat, radius_m]"),
    ({"text": "x", "within": {"type": "Blob"}}, "not a valid GeoJSON geometry"),
])
def test_mistakes_are_one_line_400s(client: Any, body: dict[str, Any], message: str) -> None:
    response = client.post("/api/search", json=body)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert "\n" not in response.get_json()["error"]


def test_chip_thumbnails_from_imagery_and_files(client: Any, micro_model: RsvlModel,
                                                image_folder: Path) -> None:
    import io

    response = client.get("/api/chip/5.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    chip = Image.open(io.BytesIO(response.data))
    assert chip.size == (160, 160) and np.asarray(chip).std() > 0  # a window, not a blank
    assert client.get("/api/chip/16.png").status_code == 400
    folder = ImageIndex.from_folder(micro_model, image_folder, progress=False)
    files = create_app(folder).test_client()
    thumb = Image.open(io.BytesIO(files.get("/api/chip/0.png").data))
    assert thumb.size == (30, 24)  # small images are not enlarged
    assert files.get("/api/info").get_json()["bounds"] is None
    memory = ImageIndex.from_images(micro_model, [np.zeros((8, 8, 3), np.uint8)], progress=False)
    missing = create_app(memory).test_client().get("/api/chip/0.png")
    assert missing.status_code == 404 and "names no image file" in missing.get_json()["error"]


def test_page_and_vendored_leaflet_are_served(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    assert '<script src="/static/leaflet/leaflet.js">' in page and "http" not in page
    assert b"Leaflet 1.9.4" in client.get("/static/leaflet/leaflet.js").data
    assert client.get("/static/leaflet/leaflet.css").status_code == 200
    assert client.get("/static/search.js").status_code == 200


def test_user_tiles_folder_and_template(parquet_index: Path, tmp_path: Path) -> None:
    (tmp_path / "tiles" / "12" / "2218").mkdir(parents=True)
    Image.new("RGB", (256, 256), "olive").save(tmp_path / "tiles" / "12" / "2218" / "1552.png")
    index = ImageIndex.load(parquet_index)
    app = create_app(index, tiles=tmp_path / "tiles").test_client()
    basemap = app.get("/api/info").get_json()["basemap"]
    assert basemap == {"url": "/tiles/{z}/{x}/{y}.png", "min_zoom": 12, "max_zoom": 12}
    assert app.get("/tiles/12/2218/1552.png").status_code == 200
    assert app.get("/tiles/12/2218/1553.png").status_code == 404
    template = "http://localhost:9000/{z}/{x}/{y}.jpg"
    info = create_app(index, tiles=template).test_client().get("/api/info").get_json()
    assert info["basemap"]["url"] == template
    with pytest.raises(InputError, match="not a {z}/{x}/{y} tile folder"):
        create_app(index, tiles=tmp_path / "nowhere")


@pytest.mark.slow
def test_serve_command_answers(parquet_index: Path) -> None:
    command = [sys.executable, "-m", "rsvl", "search", "serve", str(parquet_index),
               "--port", "0"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            assert line.startswith("serving ") and "(16 images)" in line
            url = line.split(" at ")[1].split()[0]
            with urllib.request.urlopen(f"{url}api/info", timeout=10) as response:
                assert json.load(response)["count"] == 16
        finally:
            server.terminate()


def test_serve_command_refuses_bad_tiles(parquet_index: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from rsvl.cli import main

    status = main(["search", "serve", str(parquet_index), "--tiles", "/no/such/folder"])
    error = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in error and "not a {z}/{x}/{y} tile folder" in error


@pytest.fixture()
def served(parquet_index: Path, micro_model: RsvlModel) -> Iterator[str]:
    """The page over the 16-chip index on a free port, in a thread."""
    server = make_server(ImageIndex.load(parquet_index, model=micro_model), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Any]:
    """Debian's headless Chromium through chromedriver (skips when they are not installed)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(f"needs Chromium and ChromeDriver: {INSTALL}")
    pytest.importorskip("selenium", reason="needs selenium: pip install -e '.[dev]'")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # This machine has no network: no background connections, no component updates.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_page_in_headless_chromium(served: str, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(served)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    assert "16 images, model rsvl-micro" in browser.find_element(By.ID, "status").text

    def cards() -> list[Any]:
        return browser.find_elements(By.CSS_SELECTOR, "#results .card")

    def footprints() -> list[Any]:
        return browser.find_elements(By.CSS_SELECTOR, "#map path.leaflet-interactive")

    k = browser.find_element(By.ID, "k")
    k.clear()
    k.send_keys("6")
    browser.find_element(By.ID, "query").send_keys("a field\n")
    wait.until(lambda d: len(cards()) == 6 and "results for" in d.find_element(By.ID,
                                                                               "status").text)
    assert len(footprints()) == 6
    first = cards()[0].find_element(By.CSS_SELECTOR, ".meta").text
    assert first.startswith("#1 0.") and "r00" in first
    wait.until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#results img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"))  # every thumbnail loaded

    # click the third result's image: search similar, it comes back first with score 1.000
    target = cards()[2].get_attribute("data-id")
    key = cards()[2].find_element(By.TAG_NAME, "img").get_attribute("alt")
    cards()[2].find_element(By.TAG_NAME, "img").click()
    wait.until(lambda d: f"similar to {key}" in d.find_element(By.ID, "status").text)
    assert cards()[0].get_attribute("data-id") == target
    assert " 1.000 " in cards()[0].find_element(By.CSS_SELECTOR, ".meta").text
    assert len(cards()) == 6 and len(footprints()) == 6

    # mark the last result positive: the search reruns with it and shows the mark
    marked = cards()[-1].get_attribute("data-id")
    cards()[-1].find_element(By.CSS_SELECTOR, "button.positive").click()
    wait.until(lambda d: "(1 positive, 0 negative)" in d.find_element(By.ID, "status").text)
    positive = browser.find_elements(By.CSS_SELECTOR, "#results .card.positive")
    assert [card.get_attribute("data-id") for card in positive] == [marked]
    browser.save_screenshot(str(tmp_path / "page.png"))
    if os.environ.get("RSVL_SCREENSHOT"):  # keep a copy to look at
        shutil.copy(tmp_path / "page.png", os.environ["RSVL_SCREENSHOT"])
    logs = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not logs, logs
