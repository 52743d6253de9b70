"""The send journal's cost per message: ``python -m tests.benchmarks.journal`` (repository root).

A message sent through a journal pays for a look-up of its key, a claim (durable before the
request leaves) and recording the answer. This measures exactly those three steps, back to
back, for ``--sends`` distinct keys on each backend, and prints the added wall time per send
(median and 95th percentile): memory; SQLite in a file with every claim synced to disk (WAL,
synchronous=FULL); and Redis when ``redis-server`` is installed (a server of its own on
127.0.0.1, AOF with ``appendfsync always``, the durable setting docs/send-journal.md
recommends). Goal: under 2 ms for SQLite, synced, on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from py_sp_api.runtime.journal import SENT, SendJournal, SendKey
from tests.support.redis_server import RedisServer, redis_server_binary

BODY = b'{"text":"Your order has shipped; the tracking number follows."}'


def per_send(journal: SendJournal, sends: int, first: int = 0) -> List[float]:
    """Seconds for check + claim + settle of ``sends`` fresh keys, numbered from ``first``."""
    times: List[float] = []
    for n in range(first, first + sends):
        key = SendKey("https://host|lwa:bench", "ATVPDKIKX0DER", f"113-0000000-{n:07d}", "op")
        started = time.perf_counter()
        journal.check(key)  # as the client does: a taken key is refused before the token
        claim = journal.claim(key, BODY)
        journal.settle(claim, SENT, request_id=f"rid-{n}", status=201)
        times.append(time.perf_counter() - started)
    return times


def report(name: str, times: List[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (
        f"{name:34} median {statistics.median(times) * 1e3:7.3f} ms   "
        f"p95 {p95 * 1e3:7.3f} ms   ({len(times)} sends)"
    )


def redis_server(directory: Path) -> Optional[RedisServer]:
    binary = redis_server_binary()
    if binary is None:
        return None
    server = RedisServer(binary, directory)
    server.start()
    # Durable as recommended: every write appended and fsynced before Redis answers.
    server.client().config_set("appendonly", "yes")
    server.client().config_set("appendfsync", "always")
    return server


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.journal", description=__doc__)
    parser.add_argument("--sends", type=int, default=500)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        backends: Dict[str, Callable[[], SendJournal]] = {
            "memory": SendJournal.memory,
            "sqlite (WAL, synchronous=FULL)": lambda: SendJournal.sqlite(directory / "j.sqlite3"),
        }
        server = redis_server(directory)
        if server is not None:
            url = server.url
            backends["redis (appendfsync always)"] = lambda: SendJournal.redis(
                url, namespace="bench"
            )
        try:
            for name, make in backends.items():
                journal = make()
                try:
                    per_send(journal, 20, first=10**6)  # warm up: connections, tables, scripts
                    print(report(name, per_send(journal, options.sends)))
                finally:
                    journal.close()
        finally:
            if server is not None:
                server.stop()
        if server is None:
            print("redis: skipped (redis-server is not installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
