"""``python -m py_sp_api``: the command line (see :mod:`py_sp_api.cli`)."""

from __future__ import annotations

import sys

from py_sp_api.cli import main

if __name__ == "__main__":
    sys.exit(main())
