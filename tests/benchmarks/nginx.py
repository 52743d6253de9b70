"""A throwaway nginx on 127.0.0.1 serving canned Messaging answers, fast enough not to matter."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Optional, Type

GET_ATTRIBUTES_BODY = '{"buyer":{"locale":"en-US"}}'
CREATED_BODY = "{}"
TOKEN_BODY = (
    '{"access_token":"Atza|benchmark-token","token_type":"bearer",'
    '"expires_in":3600,"refresh_token":"Atzr|benchmark"}'
)

# The headers Amazon sends with Messaging answers (values are representative).
_AMAZON_HEADERS = """
        add_header x-amzn-RequestId "bb7b6c5a-1f57-4d1c-9d43-6a4a3a7e2f51" always;
        add_header x-amzn-RateLimit-Limit "1.0" always;
        add_header x-amz-apigw-id "Xx1aBcDeFgHiJkL=" always;
        add_header X-Amzn-Trace-Id "Root=1-6543a1b2-0123456789abcdef01234567" always;
"""

_CONFIG = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port};
        location ~ ^/messaging/v1/orders/[^/]+/attributes$ {{
            default_type application/hal+json;{headers}
            return 200 '{get_body}';
        }}
        location ~ ^/messaging/v1/orders/[^/]+/messages/ {{
            default_type application/hal+json;{headers}
            return 201 '{created_body}';
        }}
        location = /auth/o2/token {{
            default_type application/json;
            return 200 '{token_body}';
        }}
    }}
}}
"""


def nginx_binary() -> Optional[str]:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def nginx_version() -> str:
    binary = nginx_binary()
    if binary is None:
        return "nginx missing"
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return out.stderr.strip().replace("nginx version: ", "")


class Nginx:
    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="py-sp-api-nginx-")
        self.port = _free_port()
        self._process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx not found: apt-get install nginx-light (or nginx)")
        tmp = Path(self._tmp.name)
        config = tmp / "nginx.conf"
        config.write_text(
            _CONFIG.format(
                tmp=tmp,
                port=self.port,
                headers=_AMAZON_HEADERS.rstrip(),
                get_body=GET_ATTRIBUTES_BODY,
                created_body=CREATED_BODY,
                token_body=TOKEN_BODY,
            )
        )
        self._process = subprocess.Popen(
            [binary, "-c", str(config), "-p", str(tmp)], stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self._process.poll() is not None:
                    raise RuntimeError(self._process.stderr.read().decode()) from None  # type: ignore[union-attr]  # stderr=PIPE
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
        self._tmp.cleanup()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
