"""The ``rsvl`` command line: registry, help, and clear refusals."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rsvl.cli import SUBCOMMANDS, main


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: rsvl {name}" in capsys.readouterr().out


def test_required_jobs_are_registered() -> None:
    required = {"demo", "build", "train", "eval", "report", "classify", "search"}
    assert required <= set(SUBCOMMANDS)


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rsvl", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("rsvl ")
