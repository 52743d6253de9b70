"""``python -m py_sp_api.testing``: run the local Messaging and Solicitations sandbox."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Optional, Sequence

from py_sp_api.testing.sandbox import MessagingSandbox


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m py_sp_api.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--enforce-rate-limits", action="store_true", help="answer 429 beyond plans"
    )
    parser.add_argument(
        "--require-access-token", action="store_true", help="answer 403 without one"
    )
    parser.add_argument(
        "--strict", action="store_true", help="only Amazon's static cases, as its sandbox"
    )
    options = parser.parse_args(argv)
    sandbox = MessagingSandbox(
        port=options.port,
        strict=options.strict,
        enforce_rate_limits=options.enforce_rate_limits,
        require_access_token=options.require_access_token,
    ).start()
    print(f"Messaging sandbox on {sandbox.url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
