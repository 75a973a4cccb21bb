"""Request checks and process-safety shared by every reader."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rsvl.errors import InputError
from rsvl.imagery import Imagery, open_imagery


def test_bad_requests_are_one_line_errors(make_geotiff, gradient, grid_bounds) -> None:
    imagery = open_imagery(make_geotiff("a.tif", gradient))
    inside = grid_bounds(0, 0, 10, 10)
    for size in (0, (16, -1)):
        with pytest.raises(InputError, match="chip size must be positive"):
            imagery.read(inside, size)
    with pytest.raises(InputError, match="do not intersect a.tif"):
        imagery.read(grid_bounds(200, 0, 10, 10), 16)
    with pytest.raises(InputError, match="unknown resampling 'sinc'"):
        imagery.read(inside, 16, resampling="sinc")


def _read_in_worker(imagery: Imagery) -> np.ndarray:
    return imagery.read(imagery.bounds, 32).rgb


@pytest.mark.slow
def test_readers_work_in_a_process_pool(shared_data: Path) -> None:
    sources = [shared_data / "imagery" / "cogeo.tif", shared_data / "sintra" / "tiles"]
    readers = [open_imagery(source) for source in sources]
    for reader in readers:
        reader.read(reader.bounds, 8)  # open handles and fill caches before pickling
        assert "_handle" not in pickle.loads(pickle.dumps(reader)).__dict__
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_read_in_worker, readers))
    for reader, result in zip(readers, results, strict=True):
        with reader:
            np.testing.assert_array_equal(result, _read_in_worker(reader))
        assert reader._handle is None
