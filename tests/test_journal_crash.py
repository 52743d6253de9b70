"""Crash safety with real processes and real signals, on both durable backends (issue 11, item 6).

A sender process is SIGKILLed after the server received its message and before the answer
arrived, then started again with the same jobs: the message is not sent again, and its entry
ends ``unknown``. Eight processes race over the same 50 keys: each key reaches the server once.
The server counts what it receives, as a buyer would.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from py_sp_api.runtime.journal import SendJournal
from tests.support.counting_server import CountingServer
from tests.support.redis_server import redis_server_binary, redis_server_fixture  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

BACKENDS = ["sqlite", "redis"]


@pytest.fixture(params=BACKENDS)
def journal_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Dict[str, Any]:
    if request.param == "sqlite":
        return {"sqlite": str(tmp_path / "journal.sqlite3")}
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    server = request.getfixturevalue("redis_server")
    return {"redis": server.url, "namespace": f"crash-{uuid.uuid4().hex[:8]}"}


def open_journal(where: Dict[str, Any], lease: float) -> SendJournal:
    if "sqlite" in where:
        return SendJournal.sqlite(where["sqlite"], lease=lease)
    return SendJournal.redis(where["redis"], namespace=where["namespace"], lease=lease)


def start_sender(spec: Dict[str, Any]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.journal_sender", json.dumps(spec)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outcomes(process: subprocess.Popen[str], timeout: float = 60.0) -> Dict[str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {line["order"]: line["outcome"] for line in lines}


def test_a_sender_killed_mid_send_never_sends_that_message_again(
    journal_spec: Dict[str, Any],
) -> None:
    orders = ["113-0000000-0000001", "113-0000000-0000002", "113-0000000-0000003"]
    lease = 4.0  # longer than a sender's start-up, so the restart finds the claim held
    with CountingServer(held={orders[0]}, hold=30.0) as server:
        spec = {"url": server.url, "journal": journal_spec, "lease": lease, "orders": orders}
        first = start_sender(spec)
        server.wait_for(orders[0])  # Amazon has the message; the answer is held back
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert first.returncode == -signal.SIGKILL

        # Restarted at once: the dead sender's claim still holds the key.
        server.held.clear()
        again = outcomes(start_sender(spec))
        assert again == {orders[0]: "duplicate:in_flight", orders[1]: "sent", orders[2]: "sent"}

        # Once the lease has run out without an outcome, it is unknown, and still not resent.
        time.sleep(lease + 0.2)
        last = outcomes(start_sender(spec))
        assert last == {
            orders[0]: "duplicate:unknown",
            orders[1]: "duplicate:sent",
            orders[2]: "duplicate:sent",
        }
        assert server.per_order() == {order: 1 for order in orders}

    journal = open_journal(journal_spec, lease)
    try:
        unknown = journal.entries(state="unknown")
        assert [entry.order_id for entry in unknown] == [orders[0]]
        assert {e.order_id for e in journal.entries(state="sent")} == set(orders[1:])
    finally:
        journal.close()


def test_eight_processes_racing_over_the_same_keys_send_each_once(
    journal_spec: Dict[str, Any], tmp_path: Path
) -> None:
    orders = [f"113-0000000-{n:07d}" for n in range(50)]
    start_file = tmp_path / "go"
    with CountingServer() as server:
        processes = []
        for seed in range(8):
            shuffled = orders[:]
            random.Random(seed).shuffle(shuffled)
            spec = {
                "url": server.url,
                "journal": journal_spec,
                "lease": 60.0,
                "orders": shuffled,
                "start_file": str(start_file),
            }
            processes.append(start_sender(spec))
        time.sleep(0.5)  # let them import and open the journal
        start_file.touch()
        results: List[Dict[str, str]] = [outcomes(process) for process in processes]
        assert server.per_order() == {order: 1 for order in orders}

    sent_by = [order for result in results for order, o in result.items() if o == "sent"]
    assert sorted(sent_by) == sorted(orders)  # each key sent by exactly one process
    journal = open_journal(journal_spec, 60.0)
    try:
        assert len(journal.entries(state="sent")) == 50
    finally:
        journal.close()
