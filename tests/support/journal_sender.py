"""A sender process for crash tests: ``python -m tests.support.journal_sender SPEC``.

SPEC is JSON: the server's URL, the journal (``{"sqlite": path}`` or ``{"redis": url,
"namespace": ...}``), its lease, the order ids to message, and optionally a file whose
appearance starts the sends (so racing processes start together). Prints one JSON line per
order: the outcome (``sent``, or ``duplicate:`` and the state of the DuplicateSendError).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Dict

from py_sp_api.generated.messaging import (
    ApiClient,
    Configuration,
    CreateConfirmOrderDetailsRequest,
    MessagingApi,
)
from py_sp_api.runtime.exceptions import DuplicateSendError
from py_sp_api.runtime.journal import SendJournal

MARKETPLACE = ["ATVPDKIKX0DER"]


def open_journal(spec: Dict[str, Any]) -> SendJournal:
    where = spec["journal"]
    if "sqlite" in where:
        return SendJournal.sqlite(where["sqlite"], lease=spec["lease"])
    return SendJournal.redis(where["redis"], namespace=where["namespace"], lease=spec["lease"])


def main() -> int:
    spec = json.loads(sys.argv[1])
    journal = open_journal(spec)
    start = spec.get("start_file")
    while start and not Path(start).exists():
        time.sleep(0.005)
    config = Configuration(host=spec["url"], journal=journal, rate_limiting=False)
    with ApiClient(config) as client:
        api = MessagingApi(client)
        for order in spec["orders"]:
            body = CreateConfirmOrderDetailsRequest(text=f"About your order {order}")
            try:
                api.create_confirm_order_details(order, MARKETPLACE, body)
                outcome = "sent"
            except DuplicateSendError as exc:
                outcome = f"duplicate:{exc.state}"
            print(json.dumps({"order": order, "outcome": outcome}), flush=True)
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
