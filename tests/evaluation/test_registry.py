"""The benchmark registry: every required dataset, aliases, and where-to-get messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsvl.errors import ConfigError, InputError
from rsvl.evaluation.registry import dataset_home, get_benchmark, list_benchmarks

CLASSIFICATION = ["uc-merced", "aid", "nwpu-resisc45", "eurosat", "whu-rs19", "patternnet",
                  "rsscn7", "siri-whu", "optimal-31", "rsi-cb128", "rsi-cb256", "mlrsnet", "rsc11"]
RETRIEVAL = ["rsicd", "rsitmd", "ucm-captions", "sydney-captions"]


def test_every_required_dataset_is_registered_with_its_metadata() -> None:
    assert set(CLASSIFICATION) <= set(list_benchmarks("classification"))
    assert set(RETRIEVAL) <= set(list_benchmarks("retrieval"))
    for name in CLASSIFICATION + RETRIEVAL:
        benchmark = get_benchmark(name)
        assert benchmark.url and benchmark.licence and benchmark.citation, name
        assert benchmark.split == ("all" if name in CLASSIFICATION else "test")
        if benchmark.classes is not None:
            assert len(set(benchmark.classes)) == len(benchmark.classes), name


def test_known_class_counts() -> None:
    counts = {"uc-merced": 21, "aid": 30, "nwpu-resisc45": 45, "eurosat": 10, "whu-rs19": 19,
              "patternnet": 38, "rsscn7": 7, "optimal-31": 31, "rsi-cb256": 35}
    for name, count in counts.items():
        assert len(get_benchmark(name).classes or ()) == count, name


def test_aliases_and_case() -> None:
    assert get_benchmark("RESISC45").name == "nwpu-resisc45"
    assert get_benchmark("UCM").name == "uc-merced"


def test_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'nope'.*whu-rs19"):
        get_benchmark("nope")


def test_missing_root_says_where_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"AID not found at .*captain-whu.github.io/AID"):
        dataset_home(get_benchmark("aid"), tmp_path / "missing")


def test_root_may_be_the_dataset_folder_or_its_parent(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "AID").mkdir()
    assert dataset_home(get_benchmark("aid"), tmp_path) == tmp_path / "AID"
    assert dataset_home(get_benchmark("aid"), tmp_path / "AID") == tmp_path / "AID"
    with pytest.raises(InputError, match=r"not found at \S*/no/EuroSAT or \S*/no: get"):
        dataset_home(get_benchmark("eurosat"), tmp_path / "no")
    with pytest.raises(InputError, match=r"not found at \S*/EuroSAT: get"):
        dataset_home(get_benchmark("eurosat"), tmp_path / "EuroSAT")
    monkeypatch.setenv("RSVL_DATA_DIR", str(tmp_path))
    assert dataset_home(get_benchmark("aid"), None) == tmp_path / "AID"
