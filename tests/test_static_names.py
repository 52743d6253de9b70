"""The packages' lazily loaded names are real to a type checker: a misspelt import is an error.

A module-level ``__getattr__`` (how the packages load names on first use) makes mypy accept
any attribute as ``Any``; users' ``mypy --strict`` would then miss a misspelt import.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = [
    "py_sp_api",
    "py_sp_api.generated.messaging",
    "py_sp_api.generated.messaging.models",
    "py_sp_api.generated.solicitations",
    "py_sp_api.generated.solicitations.models",
]


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy 2.4 needs Python 3.10 or newer"
)
def test_a_misspelt_import_from_a_lazy_package_is_a_type_error(tmp_path: Path) -> None:
    lines = [f"from {package} import NoSuchName{n}" for n, package in enumerate(PACKAGES)]
    # A real name keeps its type: assigning it to an int is an error too.
    lines += ["from py_sp_api import SendJournal", "wrong: int = SendJournal"]
    (tmp_path / "user_code.py").write_text("\n".join(lines) + "\n")
    mypy = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")]
    result = subprocess.run(
        [*mypy, "--strict", "--no-incremental", "user_code.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    output = result.stdout + result.stderr
    for n, package in enumerate(PACKAGES):
        assert f'Module "{package}" has no attribute "NoSuchName{n}"' in output, output
    assert "Incompatible types in assignment" in output, output
