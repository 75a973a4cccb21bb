"""``rsvl build JOB``: build datasets from OpenStreetMap features and imagery.

Jobs are entries of :data:`JOBS`; a job is its one-line help, an ``add_arguments(parser)`` and
a ``run(args) -> int``. Another package adds a job by adding an entry here whose functions
import their dependencies lazily: a job's options are added only when the job is chosen, so
``rsvl build --help`` stays fast. The options of the caption, VQA and land-cover builds are
derived from their config dataclasses (:mod:`rsvl.cli.dataclass_flags`), which also load from
``--config FILE`` and ``--set key=value``; ``rsvl build --from-manifest DATASET --out NEW``
rebuilds a dataset from the config its manifest recorded.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsvl.cli import build_dedup, build_import, build_land_cover, build_reshard, build_vqa
from rsvl.cli.dataclass_flags import ConfigFlags
from rsvl.cli.options import key_value
from rsvl.config import from_dict, set_key
from rsvl.errors import ConfigError

HELP = "build datasets (captions, classification, retrieval, VQA) from OSM and imagery"


@dataclass(frozen=True)
class Job:
    """One ``rsvl build`` sub-job."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _scheduler_spec(text: str) -> str:
    from rsvl.builders.scheduler import check_scheduler

    try:
        return check_scheduler(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def caption_flags() -> ConfigFlags:
    """The caption build's flags: :class:`~rsvl.builders.settings.CaptionBuildConfig`'s fields,
    the chip rule's without a prefix (``--chip-size``), its image format as ``--format``."""
    from rsvl.builders.settings import CaptionBuildConfig

    return ConfigFlags(CaptionBuildConfig, flatten=("rule",),
                       aliases={"rule.image_format": "--format"},
                       choices={"rule.image_format": ("jpg", "png")},
                       types={"scheduler": _scheduler_spec})


def _add_chip_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every job that cuts chips: the caption build's config."""
    caption_flags().add_to(parser)
    parser.add_argument("--default-tag", type=key_value, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="tag for exports without tag columns (Kampala: building=yes); "
                        "read_options.default_tags")


def caption_config(args: argparse.Namespace) -> Any:
    """The caption build config of the job's arguments (``--default-tag`` included)."""
    flags = caption_flags()
    payload = flags.payload(args)
    if args.default_tag:
        set_key(payload, "read_options.default_tags", dict(args.default_tag), flags.cls)
    return flags.build(payload, args)


def _build_captions(config: Any):  # type: ignore[no-untyped-def]
    """Run (or resume) a caption build and print its report."""
    from rsvl.builders.captions import build_captions

    result = build_captions(config, command=["rsvl", *sys.argv[1:]])
    print(result.focus.vocabulary.report())
    print(result.summary())
    return result


def _run_captions(args: argparse.Namespace) -> int:
    _build_captions(caption_config(args))
    return 0


def _add_classification(parser: argparse.ArgumentParser) -> None:
    from rsvl.builders.benchmark_sets import list_classification_tasks

    _add_chip_arguments(parser)
    parser.add_argument("--tasks", nargs="+", default=list_classification_tasks(),
                        choices=list_classification_tasks())
    parser.add_argument("--min-per-class", type=int, default=10,
                        help="drop classes with fewer images (reported)")
    parser.add_argument("--splits", nargs="+", default=["test"], choices=("train", "val", "test"),
                        help="splits the images come from (default: test)")


def _run_classification(args: argparse.Namespace) -> int:
    from rsvl.builders.benchmark_sets import write_classification_sets

    result = _build_captions(caption_config(args))
    for made in write_classification_sets(result.root, result.records, args.tasks,
                                          args.min_per_class, args.splits):
        kept = ", ".join(f"{c} {n}" for c, n in made.classes.items()) or "no class"
        dropped = ", ".join(f"{c} {n}" for c, n in made.dropped.items()) or "none"
        print(f"{made.folder}: {kept}; dropped (< {args.min_per_class}): {dropped}")
    return 0


def _add_retrieval(parser: argparse.ArgumentParser) -> None:
    _add_chip_arguments(parser)
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))


def _run_retrieval(args: argparse.Namespace) -> int:
    from rsvl.builders.benchmark_sets import write_retrieval_set

    result = _build_captions(caption_config(args))
    path = write_retrieval_set(result.root, result.records, args.split)
    count = sum(r.split == args.split for r in result.records)
    print(f"{path}: {count} images ({args.split} split), Karpathy layout")
    return 0


JOBS: dict[str, Job] = {
    "captions": Job("chips + captions from OSM features over imagery (SkyScript recipe)",
                    _add_chip_arguments, _run_captions),
    "classification": Job("OSM-attribute classification sets as class folders",
                          _add_classification, _run_classification),
    "retrieval": Job("caption retrieval set (Karpathy JSON) from the test split",
                     _add_retrieval, _run_retrieval),
    "vqa": Job(build_vqa.HELP, build_vqa.add_arguments, build_vqa.run),
    "land-cover": Job(build_land_cover.HELP, build_land_cover.add_arguments,
                      build_land_cover.run),
    "import": Job(build_import.HELP, build_import.add_arguments, build_import.run),
    "dedup": Job(build_dedup.HELP, build_dedup.add_arguments, build_dedup.run),
    "reshard": Job(build_reshard.HELP, build_reshard.add_arguments, build_reshard.run),
}


@dataclass(frozen=True)
class Rebuild:
    """How ``--from-manifest`` rebuilds one kind of dataset."""

    flags: Callable[[], ConfigFlags]
    build: Callable[[Any], Any]


REBUILDS: dict[str, Rebuild] = {
    "captions": Rebuild(caption_flags, _build_captions),
    "vqa": Rebuild(build_vqa.vqa_flags, build_vqa.build_and_report),
}


class _LazyJobs(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subparsers whose options are added when their job is chosen (not for ``--help``)."""

    pending: dict[str, Callable[[], None]]

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        if isinstance(values, list | tuple) and values:
            add = self.pending.pop(str(values[0]), None)
            if add is not None:
                add()
        super().__call__(parser, namespace, values, option_string)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One nested subparser per job, plus ``--from-manifest`` (which needs no job)."""
    parser.add_argument("--from-manifest", metavar="DATASET",
                        help="rebuild a caption or VQA dataset from the config its manifest "
                        "recorded (DATASET/manifest.json or the folder) into --out")
    parser.add_argument("--out", dest="rebuild_out", metavar="FOLDER",
                        help="with --from-manifest: the new dataset folder (not the original)")
    parser.add_argument("--set", dest="rebuild_overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="with --from-manifest: change one recorded "
                        "setting (e.g. workers=4, osm=/moved/extract.osm.pbf)")
    jobs = parser.add_subparsers(dest="job", metavar="JOB", action=_LazyJobs)
    assert isinstance(jobs, _LazyJobs)
    jobs.pending = {}
    for name, job in JOBS.items():
        sub = jobs.add_parser(name, help=job.help, description=job.help)
        jobs.pending[name] = functools.partial(job.add_arguments, sub)


def run(args: argparse.Namespace) -> int:
    """Run the chosen job, or the rebuild ``--from-manifest`` describes."""
    if args.from_manifest is not None:
        if args.job is not None:
            raise ConfigError(f"--from-manifest rebuilds a dataset on its own; drop the job "
                              f"{args.job!r} (or drop --from-manifest)")
        return _rebuild(args.from_manifest, args.rebuild_out, args.rebuild_overrides)
    if args.rebuild_out is not None or args.rebuild_overrides:
        raise ConfigError("--out and --set before the job name go with --from-manifest; put "
                          "them after the job (rsvl build captions --out ...)")
    if args.job is None:
        raise ConfigError(f"choose a job ({', '.join(JOBS)}) or --from-manifest DATASET")
    return JOBS[args.job].run(args)


def _rebuild(dataset: str, out: str | None, overrides: Sequence[str]) -> int:
    """Rebuild the dataset whose manifest is ``dataset`` into ``out`` (see :func:`run`)."""
    from rsvl.builders.manifest import check_inputs, read_manifest, rebuild_settings
    from rsvl.config import apply_overrides

    file, manifest = read_manifest(dataset)
    if not out:
        raise ConfigError("--from-manifest needs --out: the folder of the rebuilt dataset")
    settings = rebuild_settings(manifest)
    name = _job_of(settings, file)
    flags = REBUILDS[name].flags()
    settings = apply_overrides(settings, overrides, flags.cls)
    original = {file.parent.resolve(), Path(str(settings.get("out", ""))).resolve()}
    if Path(out).resolve() in original:
        raise ConfigError(f"--out {out} is the dataset {file} describes; rebuild into another "
                          "folder (then compare the two)")
    settings["out"] = out
    config: Any = from_dict(flags.cls, settings, origin=str(file))
    check_inputs(manifest, {role: getattr(config, role) for role in manifest["inputs"]
                            if hasattr(config, role)}, str(file))
    print(f"rebuilding {file.parent} as a {name} build into {out}")
    REBUILDS[name].build(config)
    return 0


def _job_of(settings: dict[str, Any], file: Path) -> str:
    """The rebuildable job whose config has every key the manifest's config records."""
    unknown = {name: sorted(set(settings) - {f.name for f in dataclasses.fields(r.flags().cls)})
               for name, r in REBUILDS.items()}
    fitting = [name for name, keys in unknown.items() if not keys]
    if len(fitting) == 1:
        return fitting[0]
    nearest = min(unknown, key=lambda name: len(unknown[name]))
    if fitting or len(unknown[nearest]) * 2 > len(settings):
        raise ConfigError(f"{file}: its config is not one of a {' or '.join(REBUILDS)} build "
                          "(--from-manifest rebuilds those; rerun other jobs with their flags)")
    raise ConfigError(f"{file}: settings {', '.join(unknown[nearest])} are not settings of a "
                      f"{nearest} build in this rsvl (made by another version?); rebuild with "
                      "the version the manifest names, or rerun the job with today's flags")


__all__ = ["HELP", "JOBS", "REBUILDS", "Job", "Rebuild", "add_arguments", "caption_config",
           "caption_flags", "run"]
