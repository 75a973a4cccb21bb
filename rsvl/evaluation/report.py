"""Reports: Markdown and CSV tables (datasets x models, one table per task) from results.

:func:`build_report` is a pure function of the result records; :func:`write_report` reads a
folder and writes ``report.md``, one ``<task>.csv`` per task and ``all_metrics.csv``. Results
of an older protocol version are left out (and counted), never mixed in; the latest result of
each cell wins; unreadable images, partial datasets and tie-decided retrieval queries are listed
under the tables.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsvl.data.atomic import atomic_open
from rsvl.errors import InputError
from rsvl.evaluation.results import PROTOCOL_VERSION, read_results

# Task -> (headline metric, scale, caption).
HEADLINE: dict[str, tuple[str, float, str]] = {
    "zeroshot": ("acc1", 100.0, "zero-shot top-1 accuracy (%)"),
    "retrieval": ("mean_recall", 1.0, "retrieval mean recall (mean of R@1/5/10 both ways, x100)"),
    "linear-probe": ("acc1", 100.0, "linear-probe top-1 accuracy (%)"),
    "knn": ("acc1", 100.0, "k-NN top-1 accuracy (%)"),
    "vqa-zeroshot": ("oa", 100.0, "VQA zero-shot overall accuracy (%)"),
    "vqa-head": ("oa", 100.0, "VQA fusion-head overall accuracy (%)"),
    "segmentation": ("miou", 100.0, "open-vocabulary segmentation mIoU (%)"),
}


@dataclass
class Report:
    """The rendered report: Markdown text and CSV texts by file name."""

    markdown: str
    tables: dict[str, str]


def _row_key(result: Mapping[str, Any]) -> str:
    k_shot = result.get("protocol", {}).get("k_shot")
    split = "" if result["split"] in ("all", "test") else f" ({result['split']})"
    return f"{result['dataset']}{split}{f' {k_shot}-shot' if k_shot else ''}"


def _column_key(result: Mapping[str, Any]) -> str:
    model = f"{result['model']} ({result['checkpoint_sha256'][:8]})"
    return f"{model} [{result['preset']}]" if result.get("preset") else model


def _latest(results: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    cells: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for result in sorted(results, key=lambda r: str(r.get("timestamp", ""))):
        cells[(result["task"], _row_key(result), _column_key(result))] = result
    return cells


def is_current(result: Mapping[str, Any]) -> bool:
    """Whether ``result`` was computed under the current protocol version."""
    return int(result.get("protocol_version") or 0) >= PROTOCOL_VERSION


def _label(result: Mapping[str, Any]) -> str:
    return f"{result['task']} {_row_key(result)} / {_column_key(result)}"


def _notes(cells: Mapping[tuple[str, str, str], Mapping[str, Any]], stale: int,
           superseded: int) -> list[str]:
    """What a reader must know beside the numbers: left-out results and weak cells."""
    notes = []
    if stale:
        notes.append(f"- {stale} result(s) of an older protocol version (before "
                     f"{PROTOCOL_VERSION}) left out; rerun them")
    if superseded:
        notes.append(f"- {superseded} older result(s) of the same cells superseded by newer ones")
    for _, result in sorted(cells.items()):
        complete = result.get("completeness") or {}
        if complete.get("partial"):
            notes.append(f"- {_label(result)}: PARTIAL dataset, {complete['found_images']} of "
                         f"{complete['expected_images']} images"
                         + (f", {complete['missing_files']} missing" if complete.get(
                             "missing_files") else ""))
        if result.get("num_skipped"):
            notes.append(f"- {_label(result)}: {result['num_skipped']} unreadable image(s) "
                         f"left out of {result['num_images'] + result['num_skipped']}")
        decided = (result.get("ties") or {}).get("decided_by_tie") or {}
        queries = (result.get("ties") or {}).get("queries") or {}
        tied = {k: n for k, n in decided.items() if n}
        if tied:
            notes.append(f"- {_label(result)}: queries decided by a tie at the decisive rank: "
                         + ", ".join(f"{k} {n} of {queries.get(k.split('_')[0], '?')}"
                                     for k, n in tied.items()))
    return notes


def _format(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.2f}"


def _task_grid(task: str, cells: Mapping[tuple[str, str, str], Mapping[str, Any]]
               ) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    metric, scale, _ = HEADLINE.get(task, ("acc1", 1.0, task))
    grid = {(row, col): float(r["metrics"].get(metric, math.nan)) * scale
            for (t, row, col), r in cells.items() if t == task}
    rows = sorted({row for row, _ in grid})
    cols = sorted({col for _, col in grid})
    return rows, cols, grid


# The baselines every VQA result records (rsvl.evaluation.vqa.evaluate.vqa_baselines).
VQA_BASELINES = {"majority": "majority answer", "per_type_majority": "per-type majority",
                 "question_only": "question-only head"}


def _vqa_baseline_grid(task: str, cells: Mapping[tuple[str, str, str], Mapping[str, Any]]
                       ) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    """OA (%) of each VQA result's baselines: rows ``dataset: baseline``, the model columns."""
    grid = {}
    for (t, row, col), result in cells.items():
        baselines = result["metrics"].get("baselines") or {} if t == task else {}
        for key, name in VQA_BASELINES.items():
            if baselines.get(key):
                grid[(f"{row}: {name}", col)] = 100.0 * float(baselines[key]["oa"])
    rows = sorted({row for row, _ in grid})
    return rows, sorted({col for _, col in grid}), grid


def _markdown_table(rows: list[str], cols: list[str], grid: Mapping[tuple[str, str], float],
                    mean: bool = True) -> str:
    lines = ["| dataset | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {row} | " + " | ".join(_format(grid.get((row, c))) for c in cols) + " |"
              for row in rows]
    if mean and len(rows) > 1:
        means = [[grid[(r, c)] for r in rows if (r, c) in grid] for c in cols]
        lines.append("| **mean** | " + " | ".join(
            _format(sum(m) / len(m)) if len(m) == len(rows) else "" for m in means) + " |")
    return "\n".join(lines)


def _csv(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _long_rows(cells: Mapping[tuple[str, str, str], Mapping[str, Any]]) -> list[list[Any]]:
    scalar = sorted({k for r in cells.values() for k, v in r["metrics"].items()
                     if isinstance(v, (int, float))})
    header = ["task", "dataset", "split", "model", "checkpoint_sha256", "preset", "num_images",
              "num_skipped", "partial", "identity", *scalar]
    body = [[r["task"], r["dataset"], r["split"], r["model"], r["checkpoint_sha256"],
             r.get("preset") or "", r.get("num_images", ""), r.get("num_skipped", ""),
             bool((r.get("completeness") or {}).get("partial")), r.get("identity") or "",
             *[r["metrics"].get(m, "") for m in scalar]]
            for _, r in sorted(cells.items())]
    return [header, *body]


def build_report(results: Sequence[Mapping[str, Any]]) -> Report:
    """Markdown and CSV tables of ``results`` (the latest current result wins per table cell;
    results of older protocol versions are left out and counted)."""
    current = [r for r in results if is_current(r)]
    cells = _latest(current)
    tasks = sorted({task for task, _, _ in cells})
    sections = ["# rsvl evaluation report", "",
                f"{len(cells)} results; models are named `spec (sha256[:8]) [preset]`."]
    tables = {}
    for task in tasks:
        rows, cols, grid = _task_grid(task, cells)
        caption = HEADLINE.get(task, ("", 1.0, task))[2]
        sections += ["", f"## {task}: {caption}", "", _markdown_table(rows, cols, grid)]
        baseline_rows, _, baselines = _vqa_baseline_grid(task, cells)
        if baseline_rows:
            sections += ["", "Baselines on the same split (OA %): the training split's majority "
                         "answer, each question type's majority answer, and the question-only "
                         "head (the same head and recipe, every image replaced by a constant).",
                         "", _markdown_table(baseline_rows, cols, baselines, mean=False)]
            rows, grid = rows + baseline_rows, {**grid, **baselines}
        tables[f"{task}.csv"] = _csv([["dataset", *cols]] + [
            [row, *[_format(grid.get((row, c))) for c in cols]] for row in rows])
    notes = _notes(cells, len(results) - len(current), len(current) - len(cells))
    if notes:
        sections += ["", "## notes", "", *notes]
    tables["all_metrics.csv"] = _csv(_long_rows(cells))
    return Report("\n".join(sections) + "\n", tables)


def write_report(folder: str | Path, out: str | Path | None = None) -> list[Path]:
    """Read the results under ``folder``; write ``report.md`` and the CSVs to ``out`` (default:
    ``folder``). Returns the written paths."""
    results = read_results(folder)
    if not results:
        raise InputError(f"no result JSON files under {folder}; run `rsvl eval ... --out {folder}`")
    report = build_report(results)
    target = Path(out or folder)
    written = []
    for name, text in {"report.md": report.markdown, **report.tables}.items():
        with atomic_open(target / name, "w") as handle:
            handle.write(text)
        written.append(target / name)
    return written
