"""Progress of a long ``send_many`` run: counts by outcome, the current rate, an ETA.

The ETA comes from the usage plans, not from the rate so far: a run that spent its burst in the
first second would otherwise promise far too early an end. Shown with ``tqdm.auto`` when it is
installed (``pip install "py-sp-api[tqdm]"``; a widget in Jupyter), else as one plain line on
stderr at most every :data:`PLAIN_INTERVAL` seconds.
"""

from __future__ import annotations

import collections
import importlib
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Iterable, Optional, Sequence, TextIO

if TYPE_CHECKING:
    from py_sp_api.runtime.bulk import Bucket

PLAIN_INTERVAL = 2.0  # seconds between plain progress lines
_RATE_WINDOW = 10.0  # seconds of finished jobs the current rate is measured over
_LABEL = "send_many"


@dataclass(frozen=True)
class BucketPace:
    """Where one usage-plan bucket stands.

    Args:
        remaining: jobs still to send in it.
        rate: the plan's requests per second (``None``: the client does not pace).
        burst: tokens the client may use at once (the plan's burst minus the headroom).
        spent: requests sent in it so far.
    """

    remaining: int
    rate: Optional[float]
    burst: int
    spent: int


def eta_seconds(paces: Iterable[BucketPace], elapsed: float) -> Optional[float]:
    """Seconds until the slowest bucket is done, by its plan; ``None`` if one cannot be told.

    Each bucket started full and refills at its rate: the tokens it holds go at once, the rest
    of its jobs at the plan's rate. Buckets run side by side, so the run ends with the slowest.
    """
    longest = 0.0
    for pace in paces:
        if pace.remaining <= 0:
            continue
        if pace.rate is None:
            return None
        tokens = min(float(pace.burst), max(0.0, pace.burst - pace.spent + pace.rate * elapsed))
        longest = max(longest, max(0.0, pace.remaining - tokens) / pace.rate)
    return longest


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "?"
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressTracker:
    """Counts what finished (from the worker threads) and describes it (from the caller's)."""

    def __init__(
        self,
        total: int,
        buckets: Sequence[Bucket],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._counts: Dict[str, int] = {}
        self._finished_at: Deque[float] = collections.deque()
        self._plans = {id(bucket): bucket.plan for bucket in buckets}
        self._remaining = {id(bucket): len(bucket.indices) for bucket in buckets}
        self._spent = dict.fromkeys(self._plans, 0)

    def finished(self, bucket: Optional[Bucket], outcome: str) -> None:
        from py_sp_api.runtime.bulk import TOKEN_SPENDING_OUTCOMES

        with self._lock:
            self._counts[outcome] = self._counts.get(outcome, 0) + 1
            self._finished_at.append(self._clock())
            if bucket is not None and id(bucket) in self._remaining:
                self._remaining[id(bucket)] -= 1
                if outcome in TOKEN_SPENDING_OUTCOMES:
                    self._spent[id(bucket)] += 1

    @property
    def done(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def rate(self) -> float:
        """Jobs per second over the last :data:`_RATE_WINDOW` seconds."""
        now = self._clock()
        with self._lock:
            recent = self._finished_at
            while recent and recent[0] < now - _RATE_WINDOW:
                recent.popleft()
            window = min(_RATE_WINDOW, now - self._started)
            return len(recent) / window if window > 0 else 0.0

    def eta(self) -> Optional[float]:
        with self._lock:
            paces = [
                BucketPace(self._remaining[key], rate, burst, self._spent[key])
                for key, (rate, burst) in self._plans.items()
            ]
        return eta_seconds(paces, self._clock() - self._started)

    def summary(self) -> str:
        """``sent 35, rejected 2 | 4.0 jobs/s | ETA 0:41`` (outcomes that occurred only)."""
        from py_sp_api.runtime.bulk import OUTCOMES

        with self._lock:
            counts = dict(self._counts)
        shown = ", ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts.get(o))
        eta = format_duration(self.eta())
        return f"{shown or 'nothing yet'} | {self.rate():.1f} jobs/s | ETA {eta}"


class SilentProgress:
    """``progress=False``: counts nothing, prints nothing."""

    def finished(self, bucket: Optional[Bucket], outcome: str) -> None:
        return None

    def tick(self) -> None:
        return None

    def close(self) -> None:
        return None


class PlainProgress:
    """One line on ``stream`` at most every :data:`PLAIN_INTERVAL` seconds, and a final one."""

    def __init__(
        self,
        tracker: ProgressTracker,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker
        self.stream = stream
        self._clock = clock
        self._last = clock()

    def finished(self, bucket: Optional[Bucket], outcome: str) -> None:
        self.tracker.finished(bucket, outcome)

    def tick(self) -> None:
        now = self._clock()
        if now - self._last >= PLAIN_INTERVAL:
            self._last = now
            self._print()

    def close(self) -> None:
        self._print()

    def _print(self) -> None:
        tracker = self.tracker
        line = f"{_LABEL}: {tracker.done}/{tracker.total} | {tracker.summary()}\n"
        self.stream.write(line)
        self.stream.flush()


class TqdmProgress:
    """A ``tqdm.auto`` bar: a terminal bar, or a widget in Jupyter."""

    def __init__(self, tracker: ProgressTracker, tqdm_class: Any) -> None:
        self.tracker = tracker
        # tqdm's own rate and ETA would average over the burst: ours come from the plan.
        self.bar = tqdm_class(
            total=tracker.total,
            desc=_LABEL,
            unit="job",
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {postfix}",
        )

    def finished(self, bucket: Optional[Bucket], outcome: str) -> None:
        self.tracker.finished(bucket, outcome)

    def tick(self) -> None:
        self.bar.n = self.tracker.done
        self.bar.set_postfix_str(self.tracker.summary(), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.tick()
        self.bar.close()


def make_progress(enabled: Optional[bool], total: int, buckets: Sequence[Bucket]) -> Any:
    """The display for ``send_many(progress=enabled)``: tqdm, a plain line, or nothing."""
    if enabled is None:
        enabled = _stderr_is_terminal() or in_jupyter()
    if not enabled:
        return SilentProgress()
    tracker = ProgressTracker(total, buckets)
    tqdm_class = _tqdm_class()
    if tqdm_class is not None:
        return TqdmProgress(tracker, tqdm_class)
    return PlainProgress(tracker, sys.stderr)


def in_jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (IPython's ZMQ shell)."""
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


def _tqdm_class() -> Any:
    try:
        return importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return None


__all__ = (
    "PLAIN_INTERVAL",
    "BucketPace",
    "PlainProgress",
    "ProgressTracker",
    "SilentProgress",
    "TqdmProgress",
    "eta_seconds",
    "format_duration",
    "in_jupyter",
    "make_progress",
)
