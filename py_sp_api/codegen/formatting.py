"""Runs ruff format over the rendered Python, so the renderers need not lay code out by hand."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

# The repository's [tool.ruff] settings, given on the command line (and every configuration
# file ignored) so that the output is the same wherever the generator writes: the committed
# files then pass `ruff format --check`. ruff is pinned to a minor, so its style is stable.
RUFF_FORMAT = [
    "format",
    "--isolated",
    "--no-cache",
    "--quiet",
    "--line-length=100",
    "--target-version=py39",
]

MISSING_RUFF = "the generator needs ruff (pip install -e '.[dev]')"


def format_python(files: Dict[str, str]) -> Dict[str, str]:
    """``files`` (relative path -> text) with every ``.py`` file formatted; others unchanged.

    One ruff run formats them all: a package's hundred modules cost one process, not a hundred.
    """
    python = sorted(path for path in files if path.endswith(".py"))
    if not python:
        return dict(files)
    ruff = ruff_binary()
    if ruff is None:
        raise RuntimeError(MISSING_RUFF)
    with tempfile.TemporaryDirectory(prefix="py_sp_api_codegen_") as scratch:
        root = Path(scratch)
        for path in python:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[path].encode("utf-8"))
        _run_ruff(ruff, root, python)
        formatted = {path: (root / path).read_bytes().decode("utf-8") for path in python}
    return {**files, **formatted}


def ruff_binary() -> Optional[str]:
    """The ruff executable of the ruff package installed beside this interpreter, if any.

    Run directly rather than as ``python -m ruff``, which starts an interpreter only to exec
    it: over 66 packages that start-up was most of the formatting time.
    """
    try:
        from ruff import find_ruff_bin
    except ImportError:
        return None
    try:
        return str(find_ruff_bin())
    except FileNotFoundError:
        return None


def _run_ruff(ruff: str, root: Path, paths: List[str]) -> None:
    # Files named one by one: ruff formats a named file even where its default excludes
    # (build/, dist/...) would skip a directory's contents.
    result = subprocess.run(
        [ruff, *RUFF_FORMAT, "--", *paths],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        # The renderers wrote code ruff cannot parse: a generator bug, not a user's error.
        raise RuntimeError(f"ruff format refused the generated code: {result.stderr.strip()}")
