"""Running a test HTTP server on ``127.0.0.1`` in a background thread.

:class:`LocalHTTPServer` listens on ``127.0.0.1`` at a port the OS picks, handling each connection
in a daemon thread; :class:`BackgroundServer` runs its ``serve_forever()`` in a daemon thread and
stops it cleanly (shut down, close the listening socket, join the thread).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Type


class LocalHTTPServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` on ``127.0.0.1`` at an OS-chosen port.

    Handler threads are daemons. With ``block_on_close`` (off by default) closing the server
    waits for the connections still being handled.
    """

    daemon_threads = True

    def __init__(
        self, handler_class: Type[BaseHTTPRequestHandler], *, block_on_close: bool = False
    ) -> None:
        self.block_on_close = block_on_close
        super().__init__(("127.0.0.1", 0), handler_class)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class BackgroundServer:
    """Serves ``httpd`` from a daemon thread (named ``name-PORT`` when a name is given).

    ``poll_interval`` is how often ``serve_forever()`` looks at the shutdown flag: :meth:`stop`
    waits up to that long.
    """

    def __init__(
        self,
        httpd: LocalHTTPServer,
        *,
        name: Optional[str] = None,
        poll_interval: float = 0.01,
    ) -> None:
        self.httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=None if name is None else f"{name}-{httpd.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self.httpd.port

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
