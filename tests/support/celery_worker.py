"""A real ``celery worker`` process for tests, and a sandbox that holds chosen answers back.

:class:`CeleryWorker` starts ``celery -A tests.support.celery_app worker`` (prefork, 2 processes
by default) and waits until its log says it is ready. :class:`HoldingSandbox` is the Messaging
sandbox (rate limits enforced, every request recorded) that, for the orders in ``held``, waits
``hold`` seconds before answering: long enough for a test to SIGKILL the worker process that is
waiting for that answer.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Counter, Dict, List, Optional, Set

from py_sp_api.testing import MessagingSandbox

REPO = Path(__file__).resolve().parents[2]


class CeleryWorker:
    """``celery worker`` in a subprocess; its log goes to ``log``."""

    def __init__(
        self,
        log: Path,
        *,
        redis_url: str,
        host: str,
        namespace: str,
        lease: float,
        concurrency: int = 2,
        pool: str = "prefork",
    ) -> None:
        self.log = log
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SPAPI_TEST_REDIS_URL": redis_url,
            "SPAPI_TEST_HOST": host,
            "SPAPI_TEST_NAMESPACE": namespace,
            "SPAPI_TEST_LEASE": str(lease),
        }
        self.concurrency = concurrency
        self.pool = pool
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> CeleryWorker:
        self.starts += 1
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.support.celery_app",
            "worker",
            "-P",
            self.pool,
            "-c",
            str(self.concurrency),
            "-n",
            f"test{self.starts}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ]
        with self.log.open("ab") as out:
            out.write(f"\n==== start {self.starts}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        deadline = time.monotonic() + timeout
        marker = f"test{self.starts}@"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the celery worker exited at start:\n{self.text()}")
            if any(marker in line and "ready." in line for line in self.text().splitlines()):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the celery worker was not ready in {timeout}s:\n{self.text()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 60.0) -> None:
        """Warm shutdown (SIGTERM): running tasks finish, queued ones go back to the broker."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise RuntimeError(f"the celery worker did not stop in {timeout}s") from None


class HoldingSandbox(MessagingSandbox):
    """The sandbox; answers for ``held`` orders come ``hold`` seconds late."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.held: Set[str] = set()
        self.hold = 0.0
        self.retry_after: Optional[str] = None  # a Retry-After header on every 429, when set
        self._arrived = threading.Condition()
        self._arrivals: List[str] = []

    def start(self) -> HoldingSandbox:
        super().start()
        server = self._server
        assert server is not None
        report = server.handle_error

        def quiet(request: Any, client_address: Any) -> None:
            # The answer to a killed worker process cannot be written: expected, not news.
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                report(request, client_address)

        server.handle_error = quiet  # type: ignore[method-assign]
        return self

    def _answer(self, method: str, target: str, headers: Dict[str, str], body: bytes) -> Any:
        answer = super()._answer(method, target, headers, body)
        if answer.status == 429 and self.retry_after is not None:
            answer = dataclasses.replace(
                answer, headers={**answer.headers, "Retry-After": self.retry_after}
            )
        if answer.order_id in self.held:
            with self._arrived:
                self._arrivals.append(answer.order_id)
                self._arrived.notify_all()
            time.sleep(self.hold)
        return answer

    def wait_for_arrival(self, order_id: str, timeout: float) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: order_id in self._arrivals, timeout):
                raise AssertionError(f"no request for {order_id} arrived in {timeout}s")

    def received(self) -> Counter[str]:
        """Messages (POSTs) received per order id, whatever was answered."""
        return collections.Counter(
            request.order_id
            for request in self.requests
            if request.method == "POST" and request.order_id is not None
        )

    def statuses(self) -> Counter[int]:
        return collections.Counter(
            request.status for request in self.requests if request.method == "POST"
        )
