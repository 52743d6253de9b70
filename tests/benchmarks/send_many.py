"""send_many at the usage plan's limit: ``python -m tests.benchmarks.send_many`` (repository root).

Runs the local sandbox in a process of its own, enforcing Amazon's plan for Messaging (1
request/second, burst 5, per operation and access token), and sends 2 sellers x 4 operations x
``--per-bucket`` jobs through ``send_many`` with an SQLite journal (each claim synced to disk).
Retries are off, so a 429 shows as a rejected job. Prints:

* the run's wall time against the shortest the plan allows for the burst the client uses
  (``(jobs per bucket - (burst - headroom)) / rate``): the ratio, goal <= 1.05;
* the client process's CPU per job (``time.process_time``, the journal included), which is what
  a host running many sellers pays.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict

from py_sp_api import NO_RETRIES, SendJournal, send_many
from py_sp_api.generated.messaging import ApiClient, Configuration
from py_sp_api.runtime.bulk import SENT
from tests.support.bulk_jobs import OPERATIONS, SELLERS, mixed_jobs, shortest_run

GOAL = 1.05


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "py_sp_api.testing", "--port", "0", "--enforce-rate-limits"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sandbox.stdout is not None
    line = sandbox.stdout.readline()  # "Messaging sandbox on http://127.0.0.1:PORT (...)"
    return sandbox, line.split(" on ", 1)[1].split()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-bucket", type=int, default=25, help="jobs per seller and operation")
    options = parser.parse_args()
    jobs = mixed_jobs(options.per_bucket)
    sandbox, url = start_sandbox()
    try:
        with tempfile.TemporaryDirectory() as directory:
            journal = SendJournal.sqlite(Path(directory) / "sends.sqlite3")
            clients: Dict[str, ApiClient] = {
                seller: ApiClient(
                    Configuration(
                        host=url,
                        access_token=f"Atza|token-of-{seller}",
                        seller_id=seller,
                        journal=journal,
                        retry=NO_RETRIES,
                    )
                )
                for seller in SELLERS
            }
            cpu, wall = time.process_time(), time.monotonic()
            report = send_many(clients, jobs, progress=False)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            journal.close()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    limit = shortest_run(options.per_bucket)
    ratio = wall / limit
    counts = {outcome: n for outcome, n in report.counts().items() if n}
    print(
        f"jobs                 {len(jobs)} ({len(SELLERS)} sellers x {len(OPERATIONS)} operations)"
    )
    print(f"outcomes             {counts}")
    print(f"wall time            {wall:.2f} s; the plan allows at best {limit:.2f} s")
    print(f"ratio                {ratio:.3f} (goal <= {GOAL})")
    print(f"client CPU per job   {cpu / len(jobs) * 1e3:.2f} ms")
    ok = ratio <= GOAL and counts.get(SENT) == len(jobs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
