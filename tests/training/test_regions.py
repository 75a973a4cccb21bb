"""The region-level loss: its value by hand, masks through the augmentation to patch coverage,
a real run on the built-in region with it on, and the set-ups it refuses."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from rsvl.data.masks import encode_mask
from rsvl.errors import ConfigError
from rsvl.evaluation.segmentation import patch_features
from rsvl.models import load_clip
from rsvl.models.patches import PatchTap
from rsvl.training.augment import Geometry, ImageTransform
from rsvl.training.config import AugmentConfig, load_config
from rsvl.training.data import ContrastiveStream, list_units
from rsvl.training.regions import (
    RegionOptions,
    collate_regions,
    image_regions,
    patch_coverage,
    pool_regions,
    region_loss,
    region_tap,
)
from rsvl.training.trainer import train

TINY = ["model.spec=rsvl-micro", "data.batch_size=8", "optim.warmup_steps=2", "run.log_every=1",
        "run.progress=false", "run.trackers=[]", "data.shuffle_buffer=16"]


def _region(mask: np.ndarray, phrase: str) -> dict[str, Any]:
    """A region-text pair as builds write it (mask cropped to its box)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return {"phrase": phrase, "box": [int(x0), int(y0), int(x1), int(y1)],
            "mask": encode_mask(mask[y0:y1, x0:x1])}


def test_region_loss_matches_the_hand_computed_value() -> None:
    # One image, 2 x 2 patches: the left column points along x, the right one along y.
    x, y = [1.0, 0.0], [0.0, 1.0]
    patches = torch.tensor([[[x, y], [x, y]]])
    coverage = torch.tensor([
        [[1.0, 0.0], [1.0, 0.0]],  # the left column -> x
        [[0.0, 1.0], [0.0, 0.0]],  # the top right patch -> y
        [[0.5, 0.5], [0.0, 0.0]],  # half of each top patch -> (x + y) / 2, normalised
    ])
    phrases = torch.tensor([x, y])
    labels = torch.tensor([0, 1, 0])  # the first and last regions share a phrase
    pooled = pool_regions(patches, coverage, torch.tensor([0, 0, 0]))
    assert torch.allclose(pooled, torch.tensor([x, y, [0.5 ** 0.5] * 2]))
    # scale 2: logits [2, 0], [0, 2], [sqrt 2, sqrt 2] -> CE log(1 + e^-2) twice, then log 2.
    expected = (2 * math.log(1 + math.exp(-2)) + math.log(2)) / 3
    loss = region_loss(patches, coverage, torch.tensor([0, 0, 0]), phrases, labels,
                       torch.tensor(2.0))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    empty = region_loss(patches, coverage[:0], torch.tensor([], dtype=torch.long), phrases,
                        torch.tensor([], dtype=torch.long), torch.tensor(2.0))
    assert empty.item() == 0.0


def test_coverage_follows_crop_rotation_and_flips() -> None:
    mask = np.zeros((64, 64), dtype=bool)
    mask[:16, :32] = True  # the two top-left patches of a 4 x 4 grid of 16 px
    top_left = np.zeros((4, 4), np.float32)
    top_left[0, :2] = 1
    assert np.array_equal(patch_coverage(mask, Geometry(), 4), top_left)
    flipped = Geometry(None, (Image.Transpose.FLIP_LEFT_RIGHT,))
    assert np.array_equal(patch_coverage(mask, flipped, 4), top_left[:, ::-1])
    rotated = Geometry(None, (Image.Transpose.ROTATE_90,))  # counter-clockwise, as PIL's
    assert np.array_equal(patch_coverage(mask, rotated, 4), np.rot90(top_left))
    # A 32 px crop starting 8 px in: source columns 8..40 become 4 cells of 8 px each, the
    # mask fills the first three; source rows 0..32 become rows of 8 px, the mask fills two.
    cropped = patch_coverage(mask, Geometry((8, 0, 40, 32)), 4)
    assert np.array_equal(cropped, [[1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    quarter = np.zeros((64, 64), dtype=bool)
    quarter[:4, :16] = True  # a quarter of one patch
    assert patch_coverage(quarter, Geometry(), 4)[0, 0] == pytest.approx(0.25)


def test_coverage_is_the_augmented_image_of_the_mask() -> None:
    """The mask painted as an image goes through the real training transform; its pixels
    averaged per patch are the coverage computed from the transform's geometry."""
    mask = np.zeros((96, 96), dtype=bool)
    mask[10:50, 20:90] = True
    mask[60:90, 5:30] = True
    painted = Image.fromarray(np.repeat(mask[..., None] * 255, 3, axis=2).astype(np.uint8))
    transform = ImageTransform(64, [0.0] * 3, [1.0] * 3, AugmentConfig(color_jitter=0, hue=0))
    seen = set()
    for seed in range(24):
        pixels, geometry = transform.apply(painted, random.Random(seed))
        seen.add(geometry.transposes)
        pooled = pixels[0].reshape(4, 16, 4, 16).mean(dim=(1, 3)).numpy()
        assert np.abs(pooled - patch_coverage(mask, geometry, 4)).max() < 0.05
    assert len(seen) > 4  # rotations and flips were drawn


def test_small_regions_are_dropped_and_the_largest_kept() -> None:
    big, small, medium = (np.zeros((64, 64), dtype=bool) for _ in range(3))
    big[:, :40] = True  # 2.5 columns of 4 patches: 10 patches
    small[50:60, 50:60] = True  # 100 px: 0.39 of a patch
    medium[:32, 48:] = True  # 2 patches
    regions = json.dumps([_region(small, "a shed"), _region(medium, "a pond"),
                          _region(big, "farmland")]).encode()
    kept = image_regions(regions, (64, 64), Geometry(), RegionOptions(4, 1.0, 2))
    assert kept.phrases == ["farmland", "a pond"]
    assert kept.coverage.sum(axis=(1, 2)).tolist() == pytest.approx([10.0, 2.0])
    # min_patches 0 keeps the shed, but not once a crop to the top-left quarter cuts it away.
    assert "a shed" in image_regions(regions, (64, 64), Geometry(), RegionOptions(4, 0.0)).phrases
    cropped = image_regions(regions, (64, 64), Geometry((0, 0, 32, 32)), RegionOptions(4, 0.0))
    assert cropped.phrases == ["farmland"]
    unreadable = image_regions(b"not json", (64, 64), Geometry(), RegionOptions(4))
    assert unreadable.phrases == [] and unreadable.coverage.shape == (0, 4, 4)
    tokens = collate_regions([kept, unreadable, kept], open_clip.get_tokenizer("RN50"))
    assert tokens["image"].tolist() == [0, 0, 2, 2]
    assert tokens["label"].tolist() == [0, 1, 0, 1]  # same phrase, same class
    assert tokens["text"].shape[0] == 2 and tokens["coverage"].shape == (4, 4, 4)


def test_stream_batches_carry_regions_and_the_same_images(region_dataset: Path) -> None:
    units = list_units(region_dataset / "shards", split="train")
    loaded = load_clip("rsvl-micro")
    options: dict[str, Any] = dict(
        units=units, rank=0, world_size=1, batch_size=8, seed=3, epoch_batches=4,
        transform=ImageTransform(32, [0.5] * 3, [0.5] * 3, AugmentConfig()),
        tokenizer=loaded.tokenizer, shuffle_buffer=16)
    plain = next(iter(ContrastiveStream(**options)))
    with_regions = next(iter(ContrastiveStream(**options, regions=RegionOptions(4))))
    assert "regions" not in plain
    assert torch.equal(plain["image"], with_regions["image"])  # the same augmentation draws
    regions = with_regions["regions"]
    assert len(regions["label"]) > 0
    assert regions["coverage"].shape[1:] == (4, 4)
    assert (regions["coverage"].sum(dim=(1, 2)) >= 1).all()
    assert int(regions["label"].max()) < len(regions["text"])


def test_patch_tap_gives_the_segmentation_patch_features() -> None:
    """Training taps the same patch tokens that segmentation reads in a pass of its own."""
    loaded = load_clip("rsvl-micro")
    model = loaded.model.eval()
    pixels = torch.randn(2, 3, 32, 32)
    with PatchTap(model.visual) as tap:
        pooled = model.encode_image(pixels)
        tapped = tap.patches(pixels.shape)
    assert pooled.shape == (2, 32) and tapped.shape == (2, 4, 4, 32)
    expected = patch_features(loaded, pixels)
    assert torch.allclose(torch.nn.functional.normalize(tapped, dim=-1), expected, atol=1e-5)
    assert not model.visual.transformer._forward_hooks  # the tap is gone


def test_training_with_the_region_loss_learns_and_exports(region_dataset: Path,
                                                          tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    config = load_config(None, [*TINY, f"data.train={region_dataset / 'shards'}",
                                f"run.out_dir={run_dir}", "run.max_steps=12",
                                "loss.region_weight=1", "optim.lr=2e-3"])
    result = train(config)
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    steps = [entry for entry in log if "loss_region" in entry]
    assert len(steps) == 12
    assert all(entry["regions_per_batch"] > 0 for entry in steps)
    first, last = steps[0], steps[-1]
    assert last["loss_region"] < first["loss_region"]
    assert last["loss"] < first["loss"]
    assert result.export_dir is not None
    exported = load_clip(str(result.export_dir))
    assert not exported.model.visual.transformer._forward_hooks
    features = patch_features(exported, torch.randn(1, 3, 32, 32))
    assert features.shape == (1, 4, 4, 32)


def test_region_knobs_change_nothing_at_weight_zero(region_dataset: Path,
                                                    tmp_path: Path) -> None:
    """The region loss is off by default, and its other keys do nothing while it is."""
    runs = []
    for name, extra in (("a", []), ("b", ["loss.region_max_per_image=1"])):
        config = load_config(None, [*TINY, f"data.train={region_dataset / 'shards'}",
                                    f"run.out_dir={tmp_path / name}", "run.max_steps=2",
                                    "run.export=false", *extra])
        runs.append(train(config).losses)
    assert runs[0] == runs[1]


def _arch(tmp_path: Path, name: str, vision: dict[str, Any]) -> str:
    """Register a tiny open_clip architecture ``name`` with the given vision tower."""
    config = {"embed_dim": 32, "vision_cfg": vision, "text_cfg": {
        "context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)
    return name


@pytest.mark.parametrize("case", ["patch_dropout", "resnet", "no_regions", "mixture"])
def test_set_ups_the_region_loss_cannot_train_are_refused(
        case: str, region_dataset: Path, colour_shards: Callable[..., Path],
        tmp_path: Path) -> None:
    spec, train_path, message = "rsvl-micro", str(region_dataset / "shards"), ""
    if case == "patch_dropout":
        spec = _arch(tmp_path, "rsvl-test-dropout", {"image_size": 32, "layers": 1, "width": 64,
                                                      "head_width": 32, "patch_size": 8,
                                                      "patch_dropout": 0.5})
        message = "patch_dropout"
    elif case == "resnet":
        spec = _arch(tmp_path, "rsvl-test-resnet", {"image_size": 32, "layers": [1, 1, 1, 1],
                                                     "width": 8})
        message = "ModifiedResNet"
    elif case == "no_regions":
        train_path, message = str(colour_shards()), "no region-text pairs"
    else:
        train_path = str(tmp_path / "mix.json")
        message = "not a mixture"
    with pytest.raises(ConfigError, match=message) as error:
        train(load_config(None, [*TINY, f"model.spec={spec}", f"data.train={train_path}",
                                 f"run.out_dir={tmp_path / 'run'}", "run.max_steps=1",
                                 "loss.region_weight=1"]))
    assert "loss.region_weight" in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "run" / "step_1").exists()


def test_fsdp_is_refused() -> None:
    model = load_clip("rsvl-micro").model
    with pytest.raises(ConfigError, match="FSDP.*loss.region_weight=0"):
        region_tap(model, "rsvl-micro", sharded=True)


@pytest.mark.slow
def test_two_cpu_ranks_train_the_region_loss_with_accumulation(region_dataset: Path,
                                                                tmp_path: Path) -> None:
    """DDP with the tap: patch tokens come from the wrapped model's own forward pass, so both
    ranks end every step with the same weights; accumulation adds each micro-batch's term."""
    import subprocess

    from rsvl.training.launch import accelerate_command, launch_environment

    run_dir = tmp_path / "run"
    overrides = [*TINY, f"data.train={region_dataset / 'shards'}", f"run.out_dir={run_dir}",
                 "run.max_steps=3", "run.log_ranks=true", "optim.accum_steps=2",
                 "loss.region_weight=0.5"]
    command = accelerate_command(2, None, overrides, cpu=True)
    result = subprocess.run(command, env=launch_environment(cpu=True), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [[json.loads(line) for line in (run_dir / "ranks" / f"rank{r}.jsonl")
              .read_text().splitlines()] for r in (0, 1)]
    for first, second in zip(*ranks, strict=True):
        assert first["weights_sha256"] == second["weights_sha256"]
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "loss_region" in e] == [1, 2, 3]
    assert (run_dir / "export" / "open_clip_model.safetensors").is_file()
