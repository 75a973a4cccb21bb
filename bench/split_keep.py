"""How many chips the spatial split keeps, per region: kept / chips that pass every other check.

For each region (the built-in region with every build default, a smaller synthetic one, the
demo's region, and the real Sintra and
Kampala regions in ``../shared/data`` when present) the caption build runs twice: once with
the split settings under test, once with one split cell covering everything (nothing can be
lost to the split). The second build's chip count is the number of chips that pass the
pixel, size, edge and near-duplicate checks; the first's over it is the split's keep rate.
Target: at least 90 %.

    .venv/bin/python bench/split_keep.py [--cell-m auto|500] [--fractions 0.8 0.1 0.1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsvl.builders.captions import CaptionBuildConfig, build_captions
from rsvl.builders.chips import ChipRule
from rsvl.builders.settings import SplitRule
from rsvl.synth import generate_region

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "split_keep.json"
NO_SPLIT = 1e9  # one cell over any region: the split drops nothing


def _regions(tmp: Path, demo_size_m: float) -> dict[str, dict[str, Any]]:
    built_in = generate_region(tmp / "built-in", tiles=False)  # `rsvl region`'s defaults
    synthetic = generate_region(tmp / "synthetic", seed=0, size_m=1000, tiles=False)
    demo = generate_region(tmp / "demo", seed=0, size_m=demo_size_m, tiles=False)
    regions: dict[str, dict[str, Any]] = {
        f"built-in region ({built_in.size_m:.0f} m, every build default)": {
            "osm": str(built_in.osm_path), "imagery": str(built_in.orthophoto_path),
            "recipe": (None, (0.8, 0.1, 0.1))},
        "synthetic (1000 m, 128 px)": {
            "osm": str(synthetic.osm_path), "imagery": str(synthetic.orthophoto_path),
            "rule": ChipRule(chip_size=128), "partition_px": 500,
            "recipe": (400.0, (0.8, 0.1, 0.1))},
        f"demo region ({demo_size_m:.0f} m, 64 px)": {
            "osm": str(demo.osm_path), "imagery": str(demo.orthophoto_path),
            "rule": ChipRule(chip_size=64), "recipe": (400.0, (0.7, 0.0, 0.3))},
    }
    if SHARED.is_dir():
        regions["sintra (z17 tiles)"] = {
            "osm": str(SHARED / "sintra" / "osm_features.geojson"),
            "imagery": str(SHARED / "sintra" / "tiles"), "rule": ChipRule(max_gsd_factor=4),
            "recipe": (None, (0.0, 0.0, 1.0))}
        regions["kampala (z19-21 tiles)"] = {
            "osm": str(SHARED / "kampala" / "osm_buildings.geojson"),
            "imagery": str(SHARED / "kampala" / "tiles"),
            "rule": ChipRule(chip_size=128, max_gsd_factor=16),
            "read_options": {"default_tags": {"building": "yes"}},
            "recipe": (100.0, (0.8, 0.1, 0.1))}
    return regions


def _build(settings: dict[str, Any], out: Path, split: SplitRule) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    config = CaptionBuildConfig(out=str(out), split=split, **settings)
    result = build_captions(config, command=["bench/split_keep.py"])
    return {"chips": len(result.records), "rejected": dict(result.rejected),
            "split_report": result.manifest.get("split")}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell-m", default="auto", help="split cell side, or auto")
    parser.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1))
    parser.add_argument("--guard-m", type=float, default=SplitRule().guard_m,
                        help="split guard band, metres (default: the builds' default)")
    parser.add_argument("--chip-side-guard", dest="guard_m", action="store_const", const=None,
                        help="a guard band of the chips' own sides instead")
    parser.add_argument("--demo-size-m", type=float, default=3000)
    parser.add_argument("--recipe", action="store_true",
                        help="each region's data_builders/demo recipe split settings instead")
    args = parser.parse_args(argv)
    cell = None if args.cell_m == "auto" else float(args.cell_m)
    split = SplitRule(cell_m=cell, fractions=tuple(args.fractions), guard_m=args.guard_m)
    figures: dict[str, Any] = {"split": {"cell_m": cell, "fractions": list(args.fractions),
                                         "guard_m": args.guard_m}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, settings in _regions(Path(tmp), args.demo_size_m).items():
            recipe_cell, recipe_fractions = settings.pop("recipe")
            chosen = (SplitRule(cell_m=recipe_cell, fractions=recipe_fractions,
                                guard_m=args.guard_m) if args.recipe else split)
            eligible = _build(settings, Path(tmp) / "all", SplitRule(cell_m=NO_SPLIT))
            kept = _build(settings, Path(tmp) / "split", chosen)
            rate = kept["chips"] / eligible["chips"] if eligible["chips"] else 1.0
            figures[name] = {"cell_m": chosen.cell_m, "fractions": list(chosen.fractions),
                             "eligible": eligible["chips"], "kept": kept["chips"],
                             "keep_rate": rate, "rejected": kept["rejected"],
                             "split_report": kept["split_report"]}
            report = kept["split_report"] or {}
            shares = {s: n["kept"] for s, n in report.get("per_split", {}).items()}
            how = (f"cells {report.get('cell_m', 0):.0f} m"
                   if report.get("method", "cells") == "cells" else "grown held-out regions")
            print(f"{name}: kept {kept['chips']} of {eligible['chips']} eligible chips "
                  f"({rate:.0%}), {how}, per split {shares}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = RESULTS.with_name(f"split_keep{'_recipe' if args.recipe else ''}"
                                f"{'' if args.guard_m is None else f'_guard{args.guard_m:g}'}.json")
    results.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
