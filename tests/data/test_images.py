"""Decompression bombs: a tiny PNG declaring a huge size is refused from its header, with one
line naming the file, the limit and how to raise it, in every layer that decodes images."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from rsvl.data.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    PIXEL_LIMIT_ENV,
    ImageTooLarge,
    max_image_pixels,
    open_image,
)
from rsvl.errors import ConfigError, InputError

BOMB_SIDE = 50_000  # 2.5 billion pixels declared: 7.5 GB as RGB


def png_bomb(width: int = BOMB_SIDE, height: int = BOMB_SIDE) -> bytes:
    """A valid-looking PNG whose header declares ``width x height`` pixels, in ~100 bytes:
    a real 1 x 1 PNG with its IHDR chunk rewritten (and its CRC recomputed)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    start = 8 + 8  # signature, then the IHDR chunk's length and type
    data[start:start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[start - 4:start + 13]))
    data[start + 13:start + 17] = struct.pack(">I", crc)
    return bytes(data)


def test_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    assert bomb.stat().st_size < 200
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge) as caught:
        open_image(bomb)
    assert time.perf_counter() - start < 1  # decoding 7.5 GB would take minutes
    message = str(caught.value)
    assert "\n" not in message and str(bomb) in message
    assert "50000 x 50000" in message and f"{DEFAULT_MAX_IMAGE_PIXELS:,}" in message
    assert f"{PIXEL_LIMIT_ENV}=2500000000" in message
    assert isinstance(caught.value, InputError)


def test_limit_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "ok.png"
    Image.new("RGB", (20, 10)).save(image)
    monkeypatch.setenv(PIXEL_LIMIT_ENV, "199")
    with pytest.raises(ImageTooLarge, match="over the limit of 199 pixels"):
        open_image(image)
    monkeypatch.setenv(PIXEL_LIMIT_ENV, "200")
    with open_image(image) as opened:
        assert opened.size == (20, 10)
    # Raised above PIL's own limit, the header of the bomb opens (nothing is decoded).
    monkeypatch.setenv(PIXEL_LIMIT_ENV, "3_000_000_000")
    with open_image(io.BytesIO(png_bomb()), "bomb") as opened:
        assert opened.size == (BOMB_SIDE, BOMB_SIDE)
    for bad in ("lots", "0", "-5"):
        monkeypatch.setenv(PIXEL_LIMIT_ENV, bad)
        with pytest.raises(ConfigError, match=PIXEL_LIMIT_ENV):
            max_image_pixels()


def test_every_layer_refuses_the_bomb(tmp_path: Path) -> None:
    from rsvl.api.images import to_pil
    from rsvl.evaluation.features import load_rgb
    from rsvl.imagery.base import UnreadableImagery
    from rsvl.imagery.tile_folder import TileFolderImagery
    from rsvl.training.data import RawSample, decode_image

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    for read in (to_pil, load_rgb):
        with pytest.raises(ImageTooLarge, match="bomb.png"):
            read(str(bomb))
    # Training counts a bomb in a shard as a corrupt sample.
    assert decode_image(RawSample("k", png_bomb(), ["a caption"], "train")) is None
    # Tile readers: an unreadable tile, skipped and counted by the builds.
    tiles = tmp_path / "tiles" / "16" / "0"
    tiles.mkdir(parents=True)
    Image.new("RGB", (256, 256)).save(tiles / "0.png")
    (tiles / "1.png").write_bytes(png_bomb())
    folder = TileFolderImagery(tmp_path / "tiles")
    with pytest.raises(UnreadableImagery, match="over the limit"):
        folder._decode((tiles / "1.png").read_bytes(), (16, 0, 1))


def test_import_of_a_bomb_is_one_line(tmp_path: Path) -> None:
    classes = tmp_path / "classes"
    (classes / "forest").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(classes / "forest" / "fine.png")
    (classes / "forest" / "bomb.png").write_bytes(png_bomb())
    done = subprocess.run(
        [sys.executable, "-m", "rsvl", "build", "import", str(classes), "--format", "folder",
         "--out", str(tmp_path / "out"), "--name", "x", "--licence", "CC0-1.0"],
        capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "bomb.png" in lines[0] and PIXEL_LIMIT_ENV in lines[0]
    assert not (tmp_path / "out" / "manifest.json").exists()
