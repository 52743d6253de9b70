"""The mixed job list of issue 12's throughput goal, shared by its test and its benchmark.

2 sellers x 4 text-only message types, ``per_bucket`` orders each: 8 usage-plan buckets that a
good scheduler keeps busy at once.
"""

from __future__ import annotations

from typing import List

from py_sp_api import Job, RateLimiting
from py_sp_api.generated.messaging import MessagingApi

MARKETPLACE = "ATVPDKIKX0DER"
OPERATIONS = (
    "create_confirm_order_details",
    "create_confirm_delivery_details",
    "create_confirm_service_details",
    "create_unexpected_problem",
)
SELLERS = ("A1SELLERONE", "A2SELLERTWO")


def mixed_jobs(per_bucket: int) -> List[Job]:
    """``per_bucket`` jobs for every (seller, operation), each to its own order."""
    return [
        Job(
            operation,
            f"1{s}{o}-0000000-{n:07d}",
            MARKETPLACE,
            {"text": "On its way."},
            seller=seller,
        )
        for s, seller in enumerate(SELLERS)
        for o, operation in enumerate(OPERATIONS)
        for n in range(per_bucket)
    ]


def shortest_run(per_bucket: int) -> float:
    """Seconds the plans allow at best, with the burst the client uses (less its headroom)."""
    headroom = RateLimiting().headroom
    return max(
        (per_bucket - (MessagingApi.rate_limit(op).burst - headroom))
        / MessagingApi.rate_limit(op).rate
        for op in OPERATIONS
    )
