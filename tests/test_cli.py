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


def test_help_imports_no_heavy_stack() -> None:
    """``rsvl --help`` and ``rsvl JOB --help`` must not pay for torch or the raster stack."""
    heavy = ("torch", "rasterio", "geopandas", "open_clip", "osmium", "shapely", "matplotlib")
    for argv in (["--help"], *([name, "--help"] for name in SUBCOMMANDS)):
        code = (
            "import sys\nfrom rsvl.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {heavy!r} if m in sys.modules])"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.stdout.strip().splitlines()[-1] == "[]", (argv, result.stderr[-500:])


def test_an_in_process_call_gives_the_caller_its_sigterm_handler_back(
        capsys: pytest.CaptureFixture[str]) -> None:
    import signal

    def mine(signum: int, frame: object) -> None:  # pragma: no cover - never delivered
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        assert main(["search", "query", "/no/such/index", "x"]) == 2  # a one-line user error
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "error" in capsys.readouterr().err
