"""Fresh connection pools and locks in a process forked after clients were built.

A child of ``os.fork()`` (gunicorn ``--preload``, Celery's prefork pool, ``multiprocessing`` with
the fork start method) inherits every object of its parent: pooled keep-alive sockets, on which
parent and child would each read the other's responses, and locks that another thread of the
parent held at that instant, which no thread in the child will ever release. Objects owning
such state register here once, when they are built; right after a fork, in the child, each
replaces it. Nothing is checked per call.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol


class ForkAware(Protocol):
    def _reinit_after_fork(self) -> None:
        """In a freshly forked child: replace inherited connections and locks."""
        ...


# Weak: registering must not keep a closed client alive.
_registered: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def reinit_after_fork(instance: ForkAware) -> None:
    """Have ``instance._reinit_after_fork()`` called in every child forked from now on."""
    _registered.add(instance)


def _reinit_all() -> None:
    # Only the forking thread exists in the child, so nothing changes the set meanwhile.
    for instance in list(_registered):
        instance._reinit_after_fork()


if hasattr(os, "register_at_fork"):  # absent where there is no fork (Windows)
    os.register_at_fork(after_in_child=_reinit_all)


__all__ = [
    "ForkAware",
    "reinit_after_fork",
]
