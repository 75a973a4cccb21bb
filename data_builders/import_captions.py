"""Recipe: import published datasets, de-duplicate them against evaluation sets, write a mixture.

Usage (from the repository root)::

    .venv/bin/python data_builders/import_captions.py data_builders/configs/import_whu_rs19.json

A recipe is JSON with three optional steps, run in order; paths are relative to the current
directory::

    {"imports": [{"format": "folder", "source": "...", "out": "...", "name": "...",
                  "licence": "...", ...format options (see rsvl.builders.importers)}],
     "dedup": {"eval": ["ROOT[:splits]"], "train": ["ROOT[:splits]"], "out": "...",
               "max_distance": 6},
     "mixture": {"path": "mixtures/mix.json", "name": "...", "datasets": [...]}}
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rsvl.builders.dedup import deduplicate, load_image_set, parse_set, table_markdown
from rsvl.builders.importers import import_dataset
from rsvl.data.atomic import write_json
from rsvl.data.mixtures import load_mixture
from rsvl.errors import RsvlError


def run_recipe(recipe: dict) -> None:
    """Run a recipe's import, dedup and mixture steps, printing one summary per step."""
    for step in recipe.get("imports", []):
        options = dict(step)
        fmt, source, out = options.pop("format"), options.pop("source"), options.pop("out")
        records = import_dataset(fmt, source, out, command=sys.argv, **options)
        splits = {s: sum(r.split == s for r in records) for s in ("train", "val", "test")}
        print(f"{out}: {len(records)} images ({', '.join(f'{k} {v}' for k, v in splits.items())})")
    if "dedup" in recipe:
        step = recipe["dedup"]
        report = deduplicate(
            [load_image_set(*parse_set(s, ("val", "test"))) for s in step["eval"]],
            [load_image_set(*parse_set(s, ("train",))) for s in step["train"]],
            step["out"], step.get("max_distance", 6),
        )
        print(table_markdown(report.table), end="")
    if "mixture" in recipe:
        step = dict(recipe["mixture"])
        path = Path(step.pop("path"))
        write_json(path, step)
        mixture = load_mixture(path)
        for source in mixture.sources:
            print(f"{path}: {source.name} p={source.probability:.2f} "
                  f"{source.num_samples} samples, {len(source.excluded)} removed")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the recipe named on the command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: import_captions.py RECIPE.json", file=sys.stderr)
        return 2
    try:
        run_recipe(json.loads(Path(args[0]).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, KeyError) as error:
        print(f"import_captions: error: recipe {args[0]}: {error}", file=sys.stderr)
        return 2
    except RsvlError as error:
        print(f"import_captions: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
