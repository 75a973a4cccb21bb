"""The install step's remedy for torchvision on a CPU torch, and the CUDA-package check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rsvl.env import torchvision_fix
from rsvl.env.__main__ import cuda_packages


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_stack_imports_in_a_fresh_interpreter() -> None:
    result = _run("import open_clip, torchvision, accelerate, timm; print('ok')")
    assert result.returncode == 0, result.stderr[-2000:]


def test_no_cuda_packages_installed() -> None:
    assert cuda_packages() == []


def test_remedy_does_nothing_when_the_extension_loads(tmp_path: Path) -> None:
    """Where ``_C`` loads, ``apply`` defines nothing: a loadable shared library stands in."""
    import importlib.machinery

    import torch

    package = tmp_path / "torchvision"
    package.mkdir()
    loadable = next((Path(torch.__file__).parent / "lib").glob("libc10.so*"))
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (package / f"_C{suffix}").symlink_to(loadable)
    before = torchvision_fix._LIBRARY  # another test may already have imported torchvision
    assert torchvision_fix.apply(package) is False
    assert torchvision_fix._LIBRARY is before


def test_extension_missing_counts_as_not_loading(tmp_path: Path) -> None:
    assert torchvision_fix.extension_loads(tmp_path) is False


def test_remedy_is_needed_here_and_keeps_transforms_working() -> None:
    code = (
        "import importlib.util, pathlib, rsvl.env.torchvision_fix as f\n"
        "spec = importlib.util.find_spec('torchvision')\n"
        "print(f.extension_loads(pathlib.Path(spec.origin).parent))\n"
        "import torchvision.transforms as T, torch\n"
        "print(T.Resize(8)(torch.zeros(3, 16, 16)).shape[-1])\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr[-2000:]
    loads, size = result.stdout.split()
    assert size == "8"
    if loads == "True":
        pytest.skip("torchvision's extension loads here: the remedy is a no-op (nothing to check)")


def test_hook_is_armed_at_interpreter_start() -> None:
    hooks = "[type(f).__name__ for f in sys.meta_path]"
    result = _run(f"import sys; print('_TorchvisionImportHook' in {hooks})")
    assert result.stdout.strip() == "True", "run `python -m rsvl.env install` (make setup)"
