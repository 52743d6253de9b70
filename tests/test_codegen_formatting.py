"""The generator lays out its Python with ruff format: the output is format-clean and stable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from py_sp_api.codegen.formatting import MISSING_RUFF, format_python
from py_sp_api.codegen.generate import generate, generate_package, repo_root, write_files
from tests.test_codegen_general import SPEC

PYPROJECT = repo_root() / "pyproject.toml"
# Amazon's Orders models (long names and descriptions), when they are beside the repository.
ORDERS = repo_root().parent / "shared" / "spec" / "sp-api-models" / "orders-api-model"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The widgets package, and Amazon's Orders models when they are beside the repository."""
    root = tmp_path_factory.mktemp("formatting")
    spec = root / "widgets.json"
    spec.write_text(json.dumps(SPEC))
    write_files(generate_package(spec), root / "out")
    for model in sorted(ORDERS.glob("*.json")):
        write_files(generate_package(model), root / "out")
    return root / "out"


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    """ruff with the repository's configuration, as CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", "--config", str(PYPROJECT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_package_generated_from_a_spec_is_ruff_format_clean(packages: Path) -> None:
    result = _ruff("format", "--check", str(packages))

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_package_generated_from_a_spec_imports_only_what_it_uses_in_order(
    packages: Path,
) -> None:
    result = _ruff("check", "--select", "F401,I001", "--output-format", "concise", str(packages))

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_same_spec_gives_byte_identical_files() -> None:
    assert generate() == generate()


def test_only_python_is_formatted() -> None:
    files = {"pkg/m.py": "x=( 1,2 )\n", "docs/M.md": "```python\nx=( 1,2 )\n```\n"}

    assert format_python(files) == {"pkg/m.py": "x = (1, 2)\n", "docs/M.md": files["docs/M.md"]}


def test_without_ruff_the_generator_says_what_to_install(tmp_path: Path) -> None:
    # An interpreter where ``import ruff`` fails, as in an environment without the dev tools.
    without_ruff = (
        "import runpy, sys; sys.modules['ruff'] = None; "
        "sys.argv = ['codegen', '--out', sys.argv[1]]; "
        "runpy.run_module('py_sp_api.codegen', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", without_ruff, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert MISSING_RUFF in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_without_ruff_generating_from_code_raises_with_the_same_advice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ruff", None)  # ``import ruff`` now fails

    with pytest.raises(RuntimeError) as raised:
        generate()

    assert str(raised.value) == MISSING_RUFF
