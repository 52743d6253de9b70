"""Test helpers: a local Messaging and Solicitations sandbox, for notebooks, offline CI and tests.

>>> from py_sp_api.testing import MessagingSandbox
>>> with MessagingSandbox() as sandbox:
...     config = sandbox.configuration()
"""

from __future__ import annotations

from typing import Any, Generator

from py_sp_api.testing.sandbox import MessagingSandbox, SandboxRequest


def messaging_sandbox(**options: Any) -> Generator[MessagingSandbox, None, None]:
    """A generator to wrap as a pytest fixture: starts a sandbox, yields it, stops it.

    In ``conftest.py``::

        import pytest
        from py_sp_api.testing import messaging_sandbox

        sandbox = pytest.fixture(messaging_sandbox)
    """
    sandbox = MessagingSandbox(**options).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


__all__ = ["MessagingSandbox", "SandboxRequest", "messaging_sandbox"]
