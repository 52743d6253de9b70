"""The stated public API.

* Every module of ``py_sp_api/runtime/`` declares ``__all__``, listing every public name it
  defines (one without a leading underscore; type variables aside), and each listed name exists.
* The public names of ``py_sp_api`` and of every shipped API package (the package, its ``api``
  and ``models`` packages, and the runtime re-exports generated beside them) are snapshotted in
  ``tests/data/public_api.json``: a change to the public surface is a deliberate edit of it.
  After such a change, rewrite it with ``UPDATE_PUBLIC_API=1 python -m pytest
  tests/test_public_api.py`` and review the diff (and CHANGELOG.md) before committing.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
from pathlib import Path
from typing import Dict, List

import pytest

import py_sp_api.generated
import py_sp_api.runtime

SNAPSHOT = Path(__file__).parent / "data" / "public_api.json"
RUNTIME = Path(py_sp_api.runtime.__file__).parent
RUNTIME_MODULES = sorted(path.stem for path in RUNTIME.glob("*.py"))
# Beside each API package's own names: what the generator re-exports from the runtime under the
# package (the import paths of the OpenAPI-generator layout the contract documents).
API_SUBMODULES = (
    "api",
    "models",
    "api_client",
    "api_response",
    "configuration",
    "exceptions",
    "rest",
)


def defined_public_names(source: str) -> List[str]:
    """The names a module's own top-level statements define without a leading underscore."""
    names: List[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            call = node.value
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "TypeVar":
                continue  # typing plumbing, not API
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return sorted({name for name in names if not name.startswith("_")})


def test_defined_public_names_skip_private_names_imports_and_type_variables() -> None:
    source = (
        "import os\nfrom typing import TypeVar\nT = TypeVar('T')\n_HIDDEN = 1\nSHOWN = 2\n"
        "LIMIT: int = 3\ndef run(): pass\nclass Thing: pass\ndef _helper(): pass\n"
    )

    assert defined_public_names(source) == ["LIMIT", "SHOWN", "Thing", "run"]


@pytest.mark.parametrize("module_name", RUNTIME_MODULES)
def test_every_runtime_module_states_its_public_names(module_name: str) -> None:
    qualified = (
        "py_sp_api.runtime" if module_name == "__init__" else f"py_sp_api.runtime.{module_name}"
    )
    module = importlib.import_module(qualified)
    source = (RUNTIME / f"{module_name}.py").read_text(encoding="utf-8")

    declared = getattr(module, "__all__", None)
    assert declared is not None, f"{qualified} declares no __all__"
    missing = [name for name in declared if not hasattr(module, name)]
    assert missing == [], f"{qualified}.__all__ lists names it does not have"
    unlisted = sorted(set(defined_public_names(source)) - set(declared))
    assert unlisted == [], (
        f"{qualified} defines public names not in its __all__: list them, or give them a "
        "leading underscore if they are not for users"
    )


def public_surface() -> Dict[str, List[str]]:
    """Module -> sorted ``__all__``: ``py_sp_api``, the sandbox, the Celery integration and every
    shipped API package."""
    surface = {"py_sp_api": sorted(py_sp_api.__all__)}
    # The sandbox users test against, and the Celery integration (it imports no celery itself).
    for name in ("py_sp_api.testing", "py_sp_api.integrations.celery"):
        surface[name] = sorted(importlib.import_module(name).__all__)
    for package in pkgutil.iter_modules(py_sp_api.generated.__path__):
        if not package.ispkg:
            continue
        name = f"py_sp_api.generated.{package.name}"
        surface[name] = sorted(importlib.import_module(name).__all__)
        for submodule in API_SUBMODULES:
            surface[f"{name}.{submodule}"] = sorted(
                importlib.import_module(f"{name}.{submodule}").__all__
            )
    return surface


def test_every_public_name_resolves() -> None:
    for module_name, names in public_surface().items():
        module = importlib.import_module(module_name)
        unresolved = [name for name in names if getattr(module, name, None) is None]
        assert unresolved == [], f"{module_name} lists names it cannot give"


def test_the_public_surface_is_the_snapshot() -> None:
    surface = public_surface()
    if os.environ.get("UPDATE_PUBLIC_API") == "1":
        SNAPSHOT.write_text(json.dumps(surface, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))

    changes = {
        module: {
            "added": sorted(set(surface.get(module, [])) - set(snapshot.get(module, []))),
            "removed": sorted(set(snapshot.get(module, [])) - set(surface.get(module, []))),
        }
        for module in sorted(set(surface) | set(snapshot))
        if surface.get(module) != snapshot.get(module)
    }
    assert changes == {}, (
        "the public API changed. If that is deliberate, rewrite the snapshot with "
        "`UPDATE_PUBLIC_API=1 python -m pytest tests/test_public_api.py`, review the diff of "
        "tests/data/public_api.json and say so in CHANGELOG.md"
    )
