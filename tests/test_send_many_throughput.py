"""send_many at the usage plan's limit: 200 jobs, 2 sellers x 4 operations, 0 429s.

The sandbox enforces Amazon's plan for Messaging (1 request/second, burst 5) with one bucket
per operation and access token, as Amazon keeps them. The client keeps ``headroom`` tokens of
the burst in reserve, so the shortest run it can make is, per bucket, its jobs minus the burst
it uses, at the plan's rate; the buckets run side by side. The run must come within 5% of that.
"""

from __future__ import annotations

import time

import pytest

from py_sp_api import SendJournal, send_many
from py_sp_api.generated.messaging import ApiClient
from py_sp_api.runtime.bulk import SENT
from py_sp_api.testing import MessagingSandbox
from tests.support.bulk_jobs import SELLERS, mixed_jobs, shortest_run

JOBS_PER_BUCKET = 25  # 2 sellers x 4 operations x 25 = 200 jobs


@pytest.mark.slow
def test_200_jobs_over_8_buckets_finish_at_the_plans_limit_without_a_429() -> None:
    jobs = mixed_jobs(JOBS_PER_BUCKET)
    with MessagingSandbox(enforce_rate_limits=True) as sandbox:
        journal = SendJournal.memory()
        clients = {
            seller: ApiClient(
                sandbox.configuration(
                    access_token=f"Atza|token-of-{seller}", seller_id=seller, journal=journal
                )
            )
            for seller in SELLERS
        }
        started = time.monotonic()
        report = send_many(clients, jobs, progress=False)
        elapsed = time.monotonic() - started
        statuses = [request.status for request in sandbox.requests]
        for client in clients.values():
            client.close()
    assert len(jobs) == 200
    assert statuses.count(429) == 0
    assert report.counts()[SENT] == 200
    assert len(statuses) == 200
    limit = shortest_run(JOBS_PER_BUCKET)
    assert limit == 21.0
    assert elapsed <= 1.05 * limit, f"{elapsed:.2f} s, {elapsed / limit:.3f} x the plan's limit"
