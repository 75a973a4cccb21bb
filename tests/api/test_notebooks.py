"""The example notebooks execute top to bottom, offline, on the synthetic region (or the shared
orthophoto, when present)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Notebook -> a file it writes into its working folder.
NOTEBOOKS = {
    "zero_shot_classification.ipynb": "region/orthophoto.tif",
    "search_geotiff.ipynb": "region/orthophoto.tif",
    "search_places.ipynb": "places.parquet",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits the environment: notebooks find ../shared/data from the repo root.
    monkeypatch.setenv("RSVL_SHARED_DATA", os.environ.get(
        "RSVL_SHARED_DATA", str(EXAMPLES.parents[1] / "shared" / "data")))
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert time.perf_counter() - started < 120  # the notebooks promise well under a minute
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert (tmp_path / NOTEBOOKS[name]).is_file()
