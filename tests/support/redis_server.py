"""A real ``redis-server`` for tests: started on a free 127.0.0.1 port in a temporary directory.

Nothing is persisted (``--save ''``, ``--appendonly no``), and each server is the test's own: it
can be killed mid-run and started again on the same port. Tests that use the ``redis_server``
fixture are skipped, with the reason, only where the ``redis-server`` binary (Debian's
``redis-server`` package, which ``.ci/run`` installs) or the ``redis`` package is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from tests.support.http_server import unused_port

SKIP_REASON = (
    "redis-server is not installed (Debian package redis-server; .ci/run installs it): "
    "the shared rate-limit tests need a real Redis"
)


def redis_server_binary() -> Optional[str]:
    return shutil.which("redis-server")


class RedisServer:
    """One ``redis-server`` process on ``127.0.0.1:port``; restartable on the same port."""

    def __init__(self, binary: str, directory: Path, port: Optional[int] = None) -> None:
        self.binary = binary
        self.directory = directory
        self.port = port or unused_port()
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("this redis-server is already running")
        self.starts += 1
        log = self.directory / f"redis-{self.port}-{self.starts}.log"
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
            "--logfile",
            str(log),
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                text = log.read_text() if log.exists() else ""
                raise RuntimeError(f"redis-server exited at start: {stderr}{text}")
            if self.ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} in {timeout}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """End the server abruptly (SIGKILL), as a crash would; wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, **kwargs: Any) -> Any:
        """A ``redis.Redis`` client for this server (for checking what the store wrote)."""
        import redis

        kwargs.setdefault("socket_timeout", 5.0)
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, **kwargs)


@pytest.fixture(name="redis_server")
def redis_server_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    """A running ``redis-server`` of the test's own, stopped afterwards."""
    pytest.importorskip("redis", reason='the redis package is missing: pip install -e ".[test]"')
    binary = redis_server_binary()
    if binary is None:
        pytest.skip(SKIP_REASON)
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(binary, directory).start()
    try:
        yield server
    finally:
        server.stop()
