"""The VQA build on the synthetic vqa_region: answers checked against the OSM features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import box

from rsvl.builders.vqa import VqaBuildConfig, build_vqa
from rsvl.errors import ConfigError
from rsvl.osm import clean_tags, read_features
from rsvl.vqa.questions import get_category
from rsvl.vqa.rsvl_format import read_rsvqa

# Questions naming a bare category, worded by templates.json, mapped back to the category.
ASKED = {
    "presence": ("Is there a {o}?", "Is a {o} present?", "Is there a {o} in the image?"),
    "count": ("How many {os} are there?", "What is the number of {os}?",
              "What is the number of {os} in the image?"),
}
CHECKED = ("building", "house", "road", "forest", "farmland", "water_area", "meadow")


def _wording() -> dict[str, tuple[str, str]]:
    wording = {}
    for name in CHECKED:
        category = get_category(name)
        for qtype, templates in ASKED.items():
            for template in templates:
                text = template.format(o=category.singular, os=category.plural)
                wording[text.replace(" a a", " an a").replace(" a i", " an i")] = (qtype, name)
    return wording


def test_answers_agree_with_the_features(vqa_built: Any, vqa_region: Any) -> None:
    features = read_features(str(vqa_region.osm_path)).to_crs(vqa_region.crs)
    tags = [clean_tags(t) for t in features["tags"]]
    wording = _wording()
    checked = {"presence": 0, "count": 0}
    for split in ("train", "val", "test"):
        dataset = read_rsvqa(vqa_built.root, split)
        images = json.loads((vqa_built.root / f"OSM_split_{split}_images.json").read_text())
        footprint = {i["id"]: box(*i["footprint"]) for i in images["images"]}
        for q in dataset.questions:
            if q.question not in wording:
                continue
            qtype, name = wording[q.question]
            chip = footprint[q.image_id]
            members = [g for g, t in zip(features.geometry, tags, strict=True)
                       if get_category(name).matches(t) and shapely.intersects(g, chip)
                       and not shapely.touches(g, chip)]
            expected = str(len(members)) if qtype == "count" else ("yes" if members else "no")
            assert q.answer == expected, (split, q)
            checked[qtype] += 1
    assert checked["presence"] >= 10 and checked["count"] >= 10


def test_layout_splits_and_images(vqa_built: Any) -> None:
    ids = {}
    for split in ("train", "val", "test"):
        dataset = read_rsvqa(vqa_built.root, split)
        assert dataset.prefix == "OSM" and len(dataset.questions) > 0
        assert all(p.is_file() and p.suffix == ".png" for p in dataset.images.values())
        assert {"presence", "count", "comp", "area", "rural_urban"} <= set(dataset.type_counts())
        ids[split] = set(dataset.images)
        presence = [q.answer for q in dataset.questions if q.type == "presence"]
        assert abs(presence.count("yes") - presence.count("no")) <= 1  # balanced
        assert len({(q.image_id, q.question) for q in dataset.questions}) == len(dataset.questions)
    assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["val"])
    question_ids = [q.id for s in vqa_built.questions.values() for q in s]
    assert len(question_ids) == len(set(question_ids))
    assert vqa_built.manifest["counts"]["test"]["questions"] == len(vqa_built.questions["test"])
    assert "test:" in vqa_built.summary()


def test_rerun_resumes_and_refuses_other_settings(vqa_built: Any, vqa_region: Any,
                                                  vqa_make_config: Any) -> None:
    root = Path(vqa_built.root)
    again = build_vqa(vqa_make_config(vqa_region, root), command=["test"])
    assert again.questions == vqa_built.questions
    with pytest.raises(ConfigError, match="different settings"):
        build_vqa(vqa_make_config(vqa_region, root, seed=5), command=["test"])


def test_bad_settings(vqa_region: Any, tmp_path: Path, vqa_make_config: Any) -> None:
    with pytest.raises(ConfigError):
        vqa_make_config(vqa_region, tmp_path, image_format="gif")
    with pytest.raises(ConfigError):
        VqaBuildConfig(osm="x", imagery="y", out="z", chip_gsd_factor=0)
