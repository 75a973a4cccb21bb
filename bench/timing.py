"""Timing shared by the benchmarks: rsvl and its baselines in alternated rounds."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def alternated_rounds(loops: Mapping[str, Callable[[], Any]], rounds: int
                      ) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Run every loop once per round, in turn, so all see the same machine load.

    Returns:
        Seconds of each round per loop, and each loop's result from the last round.
    """
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, loop in loops.items():
            start = time.perf_counter()
            results[name] = loop()
            seconds[name].append(time.perf_counter() - start)
    return seconds, results
