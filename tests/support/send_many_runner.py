"""A send_many process for the Ctrl-C test: ``python -m tests.support.send_many_runner SPEC``.

SPEC is JSON: the server's URL, the SQLite journal's path, the operations and the order ids
(every operation for every order). Rate limiting is off: the server's delay paces the run.
Prints ``ready`` once the jobs are built, then the report as JSON when send_many returns.
"""

from __future__ import annotations

import json
import sys

from py_sp_api import Job, SendJournal, send_many
from py_sp_api.generated.messaging import ApiClient, Configuration

MARKETPLACE = "ATVPDKIKX0DER"


def main() -> int:
    spec = json.loads(sys.argv[1])
    journal = SendJournal.sqlite(spec["journal"])
    config = Configuration(host=spec["url"], journal=journal, rate_limiting=False)
    jobs = [
        Job(operation, order, MARKETPLACE, {"text": f"About order {order}"})
        for operation in spec["operations"]
        for order in spec["orders"]
    ]
    print("ready", flush=True)
    with ApiClient(config) as client:
        report = send_many(client, jobs, progress=False)
    report.write_json(sys.stdout)
    sys.stdout.flush()
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
