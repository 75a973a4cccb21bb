"""Make ``import torchvision`` work on a CPU-only torch whose torchvision is a CUDA build.

PyPI only ships CUDA builds of torchvision 0.28.0. On ``torch==2.13.0+cpu`` its compiled
extension cannot load (it needs ``libc10_cuda.so``), and ``torchvision/_meta_registrations.py``
then registers fake kernels for ``torchvision::nms``/``qnms`` without checking, so the import
dies with ``RuntimeError: operator torchvision::nms does not exist``. That takes down open_clip,
timm and the ``accelerate`` CLI.

The remedy: just before torchvision is first imported, try to load its extension; only if
that fails, define the two operator schemas so the fake-kernel registration succeeds.
Transforms, models and datasets then work; the compiled ops themselves (``nms``,
``roi_pool``...) still raise, which rsvl never needs. Where the extension loads (a real CUDA
or CPU build) nothing is changed.

It runs from a ``.pth`` file in site-packages (written by ``python -m rsvl.env install``)
through a one-shot ``sys.meta_path`` hook, so interpreter start-up pays almost nothing.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
# Keep the Library object alive: the definitions vanish when it is garbage-collected.
_LIBRARY = None


def _extension_path(package_dir: Path) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = package_dir / f"_C{suffix}"
        if candidate.exists():
            return candidate
    return None


def extension_loads(package_dir: Path) -> bool:
    """Whether torchvision's compiled ``_C`` extension in ``package_dir`` loads on this torch."""
    import torch

    path = _extension_path(package_dir)
    if path is None:
        return False
    try:
        torch.ops.load_library(str(path))
    except (OSError, RuntimeError):
        return False
    return True


def define_missing_operators() -> None:
    """Define the ``torchvision::nms``/``qnms`` schemas torchvision's meta registrations expect."""
    global _LIBRARY
    import torch

    if _LIBRARY is not None or _operator_exists("nms"):
        return
    library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        library.define(schema)
    _LIBRARY = library


def _operator_exists(name: str) -> bool:
    import torch

    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def apply(package_dir: Path) -> bool:
    """Apply the remedy for the torchvision in ``package_dir``; returns whether it was needed."""
    if extension_loads(package_dir):
        return False
    define_missing_operators()
    return True


class _TorchvisionImportHook:
    """A ``sys.meta_path`` finder that fires once, on the first ``import torchvision``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torchvision":
            return None
        uninstall()
        spec = importlib.util.find_spec("torchvision")
        if spec is not None and spec.origin is not None:
            apply(Path(spec.origin).parent)
        return spec


def install() -> None:
    """Register the import hook (idempotent); called from the ``.pth`` file at start-up."""
    if "torchvision" in sys.modules:
        return
    if not any(isinstance(finder, _TorchvisionImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TorchvisionImportHook())


def uninstall() -> None:
    """Remove the import hook."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TorchvisionImportHook)]
