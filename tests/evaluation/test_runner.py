"""Task dispatch, resume and suites."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from rsvl.errors import InputError
from rsvl.evaluation.features import FeatureOptions
from rsvl.evaluation.report import build_report
from rsvl.evaluation.results import read_results
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
    zeroshot = json.loads(next(out.glob("*zeroshot-remoteclip__*.json")).read_text())
    assert zeroshot["protocol"]["templates"] == ["a satellite photo of {c}"]
    assert zeroshot["protocol"]["preset"] == "remoteclip"
    assert next(out.glob("*__linear-probe-1shot__*.json"))
    with pytest.raises(InputError, match="unknown task"):
        run_evaluation(micro, EvalRequest("nope", str(class_tree)), out)


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


def test_vqa_is_a_task_that_resumes(micro: LoadedModel, tmp_path: Path,
                                    image_writer: Callable[..., Path]) -> None:
    """Head and zero-shot VQA through the runner: baselines recorded, same protocol reused,
    another head recipe recomputed."""
    from rsvl.evaluation.vqa import HeadRecipe
    from rsvl.vqa.rsvl_format import VqaQuestion, write_rsvqa

    root = tmp_path / "vqa"
    (root / "Images").mkdir(parents=True)
    for i in range(6):
        image_writer(root / "Images" / f"{i}.png", seed=i)
    for split, ids in (("train", range(5)), ("test", (5,))):
        questions = [VqaQuestion(10 * i + k, i, t, q, a) for i in ids for k, (t, q, a) in
                     enumerate([("presence", "Is there a road?", "yes" if i % 2 else "no"),
                                ("rural_urban", "Is it a rural or an urban area", "rural")])]
        write_rsvqa(root, "LR", split, [{"id": i} for i in ids], questions)
    out = tmp_path / "results"
    request = EvalRequest("vqa", str(root), method="head", train_split="train",
                          vqa_head=HeadRecipe(epochs=2))
    path, result = run_evaluation(micro, request, out, FeatureOptions(cache_dir=tmp_path / "c"))
    assert result is not None and result["task"] == "vqa-head" and result["split"] == "test"
    assert result["metrics"]["majority_per_type_oa"] == 0.5  # "no" and "rural" on test
    assert result["metrics"]["question_only_oa"] is not None
    assert result["request"]["vqa_head"]["epochs"] == 2
    assert run_evaluation(micro, request, out) == (path, None)
    other, again = run_evaluation(micro, replace(request, vqa_head=HeadRecipe(epochs=3)), out)
    assert again is not None and other != path
    zero_shot, outcome = run_evaluation(micro, EvalRequest("vqa", str(root)), out)
    assert outcome is not None and outcome["task"] == "vqa-zeroshot"
    assert outcome["metrics"]["question_only_oa"] is None  # no training split to train it on


def test_a_changed_protocol_is_recomputed_never_reused(micro: LoadedModel, class_tree: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "results"
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps(["a satellite photo of {c}"]))
    base = [EvalRequest("zeroshot", str(class_tree), templates=str(templates)),
            EvalRequest("linear-probe", str(class_tree), k_shot=1, seed=0),
            EvalRequest("knn", str(class_tree), k_shot=1, k=3)]
    changed = [replace(base[0], templates="skyscript"), replace(base[1], seed=1),
               replace(base[2], k=2)]
    for request, other in zip(base, changed, strict=True):
        path, result = run_evaluation(micro, request, out)
        assert result is not None and result["identity"][:12] in path.name
        assert run_evaluation(micro, request, out) == (path, None)
        other_path, recomputed = run_evaluation(micro, other, out)
        assert recomputed is not None and other_path != path
        assert recomputed["identity"] != result["identity"]
    # The same templates file name with other content is another protocol too.
    templates.write_text(json.dumps(["an aerial view of {c}"]))
    _, recomputed = run_evaluation(micro, base[0], out)
    assert recomputed is not None and recomputed["protocol"]["templates"] == [
        "an aerial view of {c}"]
    # So is another dataset content: a new image.
    folder = class_tree / "golf_course"
    first = sorted(folder.iterdir())[0]
    (folder / f"new_{first.name}").write_bytes(first.read_bytes())
    _, recomputed = run_evaluation(micro, base[1], out)
    assert recomputed is not None


def test_a_stored_result_of_another_identity_is_not_reused(micro: LoadedModel, karpathy: Path,
                                                           tmp_path: Path) -> None:
    request = EvalRequest("retrieval", str(karpathy))
    path, result = run_evaluation(micro, request, tmp_path)
    assert result is not None and result["ties"]["queries"] == {"i2t": 4, "t2i": 8}
    assert result["chance"]["t2i_r1"] == 0.25 and result["protocol_version"] == 2
    path.write_text(json.dumps({**result, "identity": "0" * 64}))  # same name, other protocol
    assert run_evaluation(micro, request, tmp_path)[1] is not None


def test_suite_vqa_runs_take_a_head_recipe(tmp_path: Path) -> None:
    from rsvl.evaluation.vqa import HeadRecipe

    suite = {"runs": [{"task": "vqa", "datasets": ["vqa"], "method": "head",
                       "train_split": "train", "vqa_head": {"epochs": 5}}]}
    [request] = suite_requests(suite, str(tmp_path))
    assert request.vqa_head == HeadRecipe(epochs=5) and request.root == str(tmp_path)
    with pytest.raises(InputError, match="suite vqa_head"):
        suite_requests({"runs": [{"task": "vqa", "datasets": ["vqa"],
                                  "vqa_head": {"epoch": 5}}]}, None)


def test_a_partial_benchmark_is_scored_only_when_allowed(micro: LoadedModel, karpathy: Path,
                                                         tmp_path: Path) -> None:
    home = tmp_path / "data" / "RSICD"
    home.mkdir(parents=True)
    (home / "images").symlink_to(karpathy.parent / "images")
    (home / "dataset_rsicd.json").write_text(karpathy.read_text())
    (karpathy.parent / "images" / "im2.png").write_bytes(b"broken")
    request = EvalRequest("retrieval", "rsicd", root=str(tmp_path / "data"))
    with pytest.raises(InputError, match="RSICD .* is incomplete .*--allow-partial"):
        run_evaluation(micro, request, tmp_path / "out")
    path, result = run_evaluation(micro, replace(request, allow_partial=True), tmp_path / "out")
    assert result is not None and result["completeness"] == {
        "expected_images": 10921, "found_images": 5, "missing_files": 0, "partial": True}
    assert result["num_skipped"] == 1
    markdown = build_report(read_results(tmp_path / "out")).markdown
    assert "PARTIAL dataset, 5 of 10921 images" in markdown
    assert "1 unreadable image(s) left out of 4" in markdown
