"""A loopback Messaging stand-in that counts every message it receives, for crash tests.

Every POST is answered 201 (``x-amzn-RequestId`` set), after ``hold`` seconds for orders named in
``held``: long enough for a test to kill the sender while Amazon "has" the message and the
answer has not arrived. ``received`` counts POSTs per (order id, path), which is what a buyer
would see.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Counter, Optional, Set, Tuple
from urllib.parse import urlsplit


class CountingServer:
    def __init__(self, *, held: Optional[Set[str]] = None, hold: float = 30.0) -> None:
        self.held = set(held or ())
        self.hold = hold
        self._lock = threading.Lock()
        self._received: Counter[Tuple[str, str]] = collections.Counter()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> CountingServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                path = urlsplit(self.path).path
                order = path.split("/")[4] if path.count("/") >= 4 else ""
                with owner._lock:
                    owner._received[(order, path)] += 1
                if order in owner.held:
                    time.sleep(owner.hold)
                payload = b"{}"
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def received(self, order: Optional[str] = None) -> int:
        """POSTs received in all, or for one order."""
        with self._lock:
            return sum(n for (o, _), n in self._received.items() if order in (None, o))

    def per_order(self) -> Counter[str]:
        with self._lock:
            counts: Counter[str] = collections.Counter()
            for (order, _), n in self._received.items():
                counts[order] += n
            return counts

    def wait_for(self, order: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.received(order) == 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never received the message for {order}")
            time.sleep(0.01)
