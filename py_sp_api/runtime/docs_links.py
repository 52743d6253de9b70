"""Where the documentation lives, for errors that point a user to a page.

Kept in one place, and equal to the ``Documentation`` URL in pyproject.toml (a test checks), so
every link an error prints goes to the same published docs.
"""

from __future__ import annotations

from typing import Tuple

DOCS_URL = "https://github.com/py-sp-api/py-sp-api/blob/main/docs"


def doc_url(page: str) -> str:
    """The published URL of ``docs/<page>``, e.g. ``doc_url("first-live-call.md")``."""
    return f"{DOCS_URL}/{page}"


__all__: Tuple[str, ...] = ("DOCS_URL", "doc_url")
