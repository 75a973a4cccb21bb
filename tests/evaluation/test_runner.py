"""Task dispatch, resume and suites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsvl.errors import InputError
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.runner import (
    EvalRequest,
    read_suite,
    run_evaluation,
    run_requests,
    suite_requests,
)
from rsvl.models import LoadedModel


def test_each_task_writes_a_result_and_resumes(micro: LoadedModel, class_tree: Path,
                                               karpathy: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    requests = [EvalRequest("zeroshot", str(class_tree), preset="remoteclip"),
                EvalRequest("linear-probe", str(class_tree), k_shot=1),
                EvalRequest("knn", str(class_tree)),
                EvalRequest("retrieval", str(karpathy))]
    for request in requests:
        path, result = run_evaluation(micro, request, out)
        assert result is not None and path.is_file()
        again, kept = run_evaluation(micro, request, out)
        assert again == path and kept is None
    zeroshot = json.loads(next(out.glob("*zeroshot-remoteclip.json")).read_text())
    assert zeroshot["protocol"]["templates"] == ["a satellite photo of {c}"]
    assert zeroshot["protocol"]["preset"] == "remoteclip"
    assert next(out.glob("*__linear-probe-1shot.json"))
    with pytest.raises(InputError, match="unknown task"):
        run_evaluation(micro, EvalRequest("vqa", str(class_tree)), out)


def test_suite_skips_missing_datasets(micro: LoadedModel, class_tree: Path,
                                      tmp_path: Path) -> None:
    suite_file = tmp_path / "suite.json"
    suite_file.write_text(json.dumps({"name": "t", "preset": "skyscript", "runs": [
        {"task": "zeroshot", "datasets": [str(class_tree), "aid"]}]}))
    requests = suite_requests(read_suite(suite_file), str(tmp_path / "nowhere"))
    assert [r.preset for r in requests] == ["skyscript", "skyscript"]
    lines: list[str] = []
    written = run_requests(micro, requests, tmp_path / "out", FeatureOptions(),
                           report=lines.append)
    assert len(written) == 1
    assert lines[1].startswith(f"skipped zeroshot aid: AID not found at {tmp_path}/nowhere/AID:")
    with pytest.raises(InputError, match="AID not found"):
        run_requests(micro, requests, tmp_path / "out", FeatureOptions(strict=True),
                     report=lines.append)
    suite_file.write_text(json.dumps({"runs": [{"datasets": []}]}))
    with pytest.raises(InputError, match="must hold"):
        read_suite(suite_file)
