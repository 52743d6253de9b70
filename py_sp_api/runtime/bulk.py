"""Messaging many orders: ``send_many`` runs a job list through the send journal and the limiter.

INTERFACE DRAFT (issue 12): the dataclasses and signatures below are the contract between
``send_many`` (this module) and the command line (``py_sp_api.cli``). Implementations replace
the ``NotImplementedError`` bodies; names and fields stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from py_sp_api.runtime.api_client import ApiClient

# Outcomes of a job, as the report counts them.
SENT = "sent"  # Amazon answered 2xx; recorded sent
REJECTED = "rejected"  # Amazon answered 4xx (429 included after the retries); nothing delivered
UNKNOWN = "unknown"  # no answer / 5xx / dropped: recorded unknown, never resent
ALREADY_SENT = "already_sent"  # the journal holds the key as sent: skipped (a resumed run)
ALREADY_UNKNOWN = "already_unknown"  # the journal holds it as unknown: listed, never sent
IN_FLIGHT_ELSEWHERE = "in_flight_elsewhere"  # another worker holds the claim now
NOT_AVAILABLE = "not_available"  # check_actions: the order does not offer this type now
INVALID = "invalid"  # refused before sending (bad order id, body...): nothing sent
FAILED = "failed"  # any other error before anything was sent (credentials, ...)
NOT_STARTED = "not_started"  # the run was interrupted (Ctrl-C) before this job's turn
OUTCOMES: Tuple[str, ...] = (
    SENT,
    REJECTED,
    UNKNOWN,
    ALREADY_SENT,
    ALREADY_UNKNOWN,
    IN_FLIGHT_ELSEWHERE,
    NOT_AVAILABLE,
    INVALID,
    FAILED,
    NOT_STARTED,
)


@dataclass(frozen=True)
class Job:
    """One message to send.

    Args:
        operation: the API method's name, e.g. ``"create_confirm_order_details"``.
        order_id, marketplace_id: the order and its marketplace.
        body: the request model (or a dict of it); ``None`` for operations without a body.
        send_key: the journal's caller key (``None``: one message of this type per order).
        seller: which client sends it, when ``send_many`` is given several (by name).
        line: where the job came from (a CSV line number), for reports and errors.
    """

    operation: str
    order_id: str
    marketplace_id: str
    body: Any = None
    send_key: Optional[str] = None
    seller: Optional[str] = None
    line: Optional[int] = None


@dataclass(frozen=True)
class JobResult:
    job: Job
    outcome: str
    request_id: Optional[str] = None
    status: Optional[int] = None
    error: Optional[str] = None
    finished_at: Optional[float] = None


@dataclass
class SendReport:
    results: List[JobResult] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    interrupted: bool = False

    def counts(self) -> Dict[str, int]:
        """How many jobs ended in each outcome (every outcome present, zeros included)."""
        raise NotImplementedError

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some rejected (or invalid/failed/not available), 3 some unknown."""
        raise NotImplementedError

    def write_csv(self, out: IO[str]) -> None:
        raise NotImplementedError

    def write_json(self, out: IO[str]) -> None:
        raise NotImplementedError


def send_many(
    client: Union[ApiClient, Mapping[str, ApiClient]],
    jobs: Iterable[Job],
    *,
    check_actions: bool = False,
    progress: Optional[bool] = None,
    max_workers: int = 32,
) -> SendReport:
    """Send every job, each usage-plan bucket busy at once; a job's failure never stops the run.

    ``client`` (or each client of a mapping, picked by ``Job.seller``) must have a send journal
    configured. ``progress=None`` shows progress when stderr is a terminal or in Jupyter.
    """
    raise NotImplementedError


__all__: Tuple[str, ...] = ("OUTCOMES", "Job", "JobResult", "SendReport", "send_many")
