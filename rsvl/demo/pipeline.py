"""``rsvl demo``: region -> datasets -> training -> evaluation -> report, with the CLI's functions.

Each stage calls the library function behind one CLI command (:func:`equivalent_commands` lists
them), writes into its own folder under the output folder, and is reused when its inputs did
not change (the region by checksum, the builds by their resume markers, the run by its last
checkpoint, the results by their protocol identity through the evaluation runner, VQA
included).

Output folder::

    region/        the synthetic region (rsvl region)
    data/          caption dataset: chips, records, shards, Parquet, classification/, retrieval/
    land_cover/    held-out land-cover chips labelled from the class raster (class folders)
    segmentation/  held-out grid chips with their class-raster masks (localisation)
    vqa/           RSVQA-layout question set
    train.json     the training config; runs/tiny/ the run; runs/untrained/ its initial weights
    results/       one JSON per evaluation (+ confusion PNGs); results/vqa_heads/
    report.md      trained vs untrained, figures in figures/ (confusion, search, heat map, loss)
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from rsvl.data.atomic import write_json
from rsvl.demo.layout import OWNED, DemoOptions, DemoPaths, DemoResult
from rsvl.errors import ConfigError

STAGES = ("region", "datasets", "train", "evaluate", "report")
def _stage(result: DemoResult, name: str, say: Callable[[str], None]) -> Callable[[], None]:
    """Announce a stage; the returned callable records its wall time."""
    number = STAGES.index(name) + 1
    say(f"[{number}/{len(STAGES)}] {name}")
    started = time.perf_counter()

    def done() -> None:
        result.seconds[name] = round(time.perf_counter() - started, 1)
        say(f"      {name} done in {result.seconds[name]:.1f} s")

    return done


def run_demo(options: DemoOptions, say: Callable[[str], None] = print) -> DemoResult:
    """Run the whole loop; each stage reuses what an earlier run left when it still matches.

    Args:
        options: Output folder, region size, seed, training processes and steps.
        say: Where progress lines go (progress bars go to stderr).

    Returns:
        Stage times, the trained and untrained figures per task, and the report's path.

    Raises:
        ConfigError, InputError: A setting or an intermediate artifact is wrong (one line).
    """

    if options.processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {options.processes}")
    # The stages pull in the raster and torch stacks: imported here so `rsvl demo --help` is cheap.
    from rsvl.demo import stages
    from rsvl.demo.summary import write_demo_report

    paths = DemoPaths(options.out)
    if options.fresh:
        for name in OWNED:
            target = options.out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    options.out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(paths)
    started = time.perf_counter()

    done = _stage(result, "region", say)
    region = stages.make_region(options, paths)
    say(f"      {'reused' if region.reused else 'generated'} {region.size_m:g} m region "
        f"({region.width} x {region.height} px) in {paths.region}")
    done()

    done = _stage(result, "datasets", say)
    datasets = stages.build_datasets(options, paths, region)
    for line in datasets.lines:
        say(f"      {line}")
    done()

    done = _stage(result, "train", say)
    stages.train_model(options, paths)
    stages.export_untrained(paths)
    done()

    done = _stage(result, "evaluate", say)
    result.figures = stages.evaluate_models(options, paths, datasets, say)
    done()

    done = _stage(result, "report", say)
    result.seconds["total"] = round(time.perf_counter() - started, 1)
    result.report = write_demo_report(options, paths, datasets, result)
    done()
    write_json(paths.summary, {"seconds": result.seconds, "figures": result.figures,
                               "options": {k: str(v) for k, v in vars(options).items()}})
    return result
