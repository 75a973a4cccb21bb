"""The ``rsvl`` command line: one subcommand per main job.

Each subcommand lives in its own module under ``rsvl.cli`` exposing ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``; this registry maps names to modules so
that ``rsvl --help`` never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence

from rsvl import __version__
from rsvl.errors import (
    EXIT_INTERRUPTED,
    EXIT_SYSTEM_ERROR,
    EXIT_USER_ERROR,
    RsvlError,
    describe_os_error,
)

SUBCOMMANDS: dict[str, str] = {
    "demo": "rsvl.cli.demo",
    "build": "rsvl.cli.build",
    "train": "rsvl.cli.train",
    "eval": "rsvl.cli.evaluate",
    "report": "rsvl.cli.report",
    "classify": "rsvl.cli.classify",
    "search": "rsvl.cli.search",
    "region": "rsvl.cli.region",
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog="rsvl",
        description="Remote-sensing vision-language models: build, train, evaluate, use.",
    )
    parser.add_argument("--version", action="version", version=f"rsvl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name in SUBCOMMANDS.items():
        if name == chosen:
            module = importlib.import_module(module_name)
            sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(_run=module.run)
        else:
            sub.add_parser(name, help=_help_of(module_name), add_help=False)
    return parser


def _help_of(module_name: str) -> str:
    """The subcommand's one-line help, read without importing its dependencies."""
    return importlib.import_module(module_name).HELP


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rsvl`` console script and ``python -m rsvl``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = args_list[0] if args_list else ""
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        # SIGTERM (a scheduler's stop, `kill`) stops like Ctrl-C: temporaries cleaned, one line.
        previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Parsing imports the subcommand's module: an OS error there (too many open files)
        # gets the same one line as one in the job.
        args = build_parser(args_list).parse_args(args_list)
        command = args.command
        return int(args._run(args))
    except RsvlError as error:
        print(f"rsvl {command}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as error:
        print(f"rsvl {command}: system error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_SYSTEM_ERROR
    except KeyboardInterrupt:
        message = "interrupted; run the same command again to resume"
        print(f"rsvl {command}: {message}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if in_main_thread and argv is None:
            # The job is over (done, failed or stopped) and the process exits: a Ctrl-C now
            # would only print a traceback from the interpreter's exit hooks (torch's).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif in_main_thread:
            # Called from Python (a notebook, a test): give the caller its own handler back
            # (processes it forks later inherit it).
            signal.signal(signal.SIGTERM, previous_sigterm)
