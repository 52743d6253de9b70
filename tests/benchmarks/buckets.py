"""Bucket creation for many sellers: ``python -m tests.benchmarks.buckets`` (repository root).

A process serving many sellers creates one bucket per seller and operation. This creates
``--sellers`` buckets (100,000 by default) in one :class:`LocalBucketStore`, as distinct sellers
arriving one after another on a clock that moves 10 ms per call, and prints the time per creation
for each tenth of the run: it must stay flat (amortised O(1)), not grow with the number of
buckets already held.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List

from py_sp_api import LocalBucketStore

HOST = "https://sellingpartnerapi-na.amazon.com"


class SteppingClock:
    """A clock that moves ``step`` seconds each time it is read, so old buckets become idle."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def creation_times(sellers: int, slices: int = 10) -> List[float]:
    """Seconds per bucket creation in each of ``slices`` equal parts of the run."""
    store = LocalBucketStore(clock=SteppingClock(0.01))
    per_slice = sellers // slices
    times: List[float] = []
    seller = 0
    for _ in range(slices):
        started = time.perf_counter()
        for _ in range(per_slice):
            store.reserve(f"{HOST}|lwa:{seller:016x}|GetAttributes", 1.0, 5, None)
            seller += 1
        times.append((time.perf_counter() - started) / per_slice)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.buckets", description=__doc__)
    parser.add_argument("--sellers", type=int, default=100_000)
    options = parser.parse_args()
    started = time.perf_counter()
    times = creation_times(options.sellers)
    total = time.perf_counter() - started
    print(f"{options.sellers:,} sellers' buckets created in {total:.2f} s")
    for index, seconds in enumerate(times):
        first = index * options.sellers // len(times)
        print(f"  buckets {first:>8,}+: {seconds * 1e6:8.2f} us per creation")
    growth = times[-1] / times[0]
    print(f"last tenth / first tenth: {growth:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
