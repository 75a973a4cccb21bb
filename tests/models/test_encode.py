"""One image-embedding loop: evaluation, the API and dedup give the same vectors through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from rsvl.errors import ConfigError
from rsvl.models import encode_images, load_clip


@pytest.fixture(scope="module")
def loaded():  # type: ignore[no-untyped-def]
    return load_clip("rsvl-micro", device="cpu")


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for index in range(7):
        pixels = rng.integers(0, 255, (20 + index, 28, 3)).astype(np.uint8)
        path = tmp_path / f"{index}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def _reference(loaded, paths: list[Path]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The loop the three copies ran: preprocess, stack, encode, normalise in float32."""
    pixels = torch.stack([loaded.preprocess(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        return F.normalize(loaded.model.encode_image(pixels).float(), dim=-1).numpy()


def test_every_consumer_gives_the_reference_vectors(loaded, files: list[Path]) -> None:  # type: ignore[no-untyped-def]
    from rsvl.api.model import RsvlModel
    from rsvl.builders.dedup import embed_images, load_image_set
    from rsvl.evaluation.features import FeatureOptions, image_features

    reference = _reference(loaded, files)
    direct = encode_images(loaded, (Image.open(p).convert("RGB") for p in files), batch_size=3)
    assert direct.dtype == torch.float32 and direct.shape == reference.shape
    np.testing.assert_allclose(direct.numpy(), reference, atol=1e-6)
    evaluated = image_features(loaded, files, FeatureOptions(batch_size=3)).features
    np.testing.assert_allclose(evaluated.numpy(), reference, atol=1e-6)
    api = RsvlModel(loaded).encode_images([str(p) for p in files], batch_size=4)
    np.testing.assert_allclose(api, reference, atol=1e-6)

    from rsvl.data.records import RECORDS_FILE, Record, write_records

    root = files[0].parent
    write_records(root / RECORDS_FILE, [
        Record(key=f"k{i}", image=p.name, captions=["x"], split="test", source="t", licence="CC0")
        for i, p in enumerate(files)])
    deduped = embed_images(load_image_set(root, ["test"]), loaded, batch_size=2)
    np.testing.assert_allclose(deduped, reference, atol=1e-6)


def test_unreadable_images_drop_out_and_tensors_pass_through(loaded, files: list[Path]) -> None:  # type: ignore[no-untyped-def]
    from rsvl.evaluation.features import image_features

    files[2].write_bytes(b"not an image")
    result = image_features(loaded, files)
    assert result.kept == [0, 1, 3, 4, 5, 6] and len(result.skipped) == 1
    readable = [files[i] for i in result.kept]
    np.testing.assert_allclose(result.features.numpy(), _reference(loaded, readable), atol=1e-6)
    tensors = [loaded.preprocess(Image.open(p).convert("RGB")) for p in readable]
    np.testing.assert_allclose(encode_images(loaded, tensors).numpy(),
                               result.features.numpy(), atol=1e-6)


def test_empty_input_and_bad_batch_size(loaded) -> None:  # type: ignore[no-untyped-def]
    assert encode_images(loaded, []).shape == (0, 0)
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        encode_images(loaded, [], batch_size=0)
