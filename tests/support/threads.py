"""Running one function in many threads at once, for concurrency tests."""

from __future__ import annotations

import threading
from typing import Callable


def run_threads(count: int, target: Callable[[], None], *, timeout: float = 30) -> None:
    """Run ``target`` in ``count`` threads and wait for all; fails if one is still running.

    Each thread is given up to ``timeout`` seconds (counted from when it is waited for).
    """
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    alive = sum(thread.is_alive() for thread in threads)
    assert alive == 0, f"{alive} of {count} threads still running"
