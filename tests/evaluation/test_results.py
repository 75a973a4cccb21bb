"""Result records and files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl import __version__
from rsvl.errors import InputError
from rsvl.evaluation.datasets import load_classification
from rsvl.evaluation.results import make_result, read_results, write_result
from rsvl.evaluation.zeroshot import zero_shot_classify
from rsvl.models import LoadedModel


def test_result_records_the_protocol_and_writes_a_plot(micro: LoadedModel, class_tree: Path,
                                                       tmp_path: Path) -> None:
    outcome = zero_shot_classify(micro, load_classification(class_tree), ["a photo of {c}"])
    result = make_result(outcome, micro, preset="skyscript", command=["rsvl", "eval"])
    assert result["checkpoint_sha256"] == micro.checksum and result["model"] == "rsvl-micro"
    assert result["protocol"]["preprocess"]["mean"][0] == pytest.approx(0.48145466)
    assert result["protocol"]["templates"] == ["a photo of {c}"]
    assert result["num_skipped"] == 1 and result["rsvl_version"] == __version__
    path = write_result(tmp_path / "out", result)
    assert path.name == f"scenes__all__rsvl-micro-{micro.checksum[:8]}__zeroshot-skyscript.json"
    assert path.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert read_results(tmp_path / "out")[0]["metrics"]["acc1"] == result["metrics"]["acc1"]


def test_read_results_skips_other_json_and_rejects_broken(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    assert read_results(tmp_path) == []
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError, match="broken.json is not valid JSON"):
        read_results(tmp_path)
    with pytest.raises(InputError, match="not found"):
        read_results(tmp_path / "missing")
