"""No function in the hand-written runtime or the generator is longer than 50 lines.

A function's length is counted from its ``def`` line to the last line of its body, both
included: the signature, the docstring, comments and blank lines inside all count; decorators
do not. Every function is counted, methods and nested functions alike (a nested function also
counts towards the one around it).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List, Tuple, Union

import pytest

import py_sp_api.codegen
import py_sp_api.runtime

MAX_LINES = 50
RUNTIME = Path(py_sp_api.runtime.__file__).parent
CODEGEN = Path(py_sp_api.codegen.__file__).parent

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]


def function_lengths(source: str) -> List[Tuple[str, int, int]]:
    """(qualified name, ``def`` line, length) of every function in ``source``."""
    found: List[Tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                end = child.end_lineno if child.end_lineno is not None else child.lineno
                found.append((name, child.lineno, end - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_the_counting_includes_signature_docstring_and_body_but_not_decorators() -> None:
    source = '@decorator\ndef f(\n    a: int,\n) -> int:\n    """Doc."""\n\n    return a\n'

    assert function_lengths(source) == [("f", 2, 6)]


def test_nested_functions_and_methods_are_counted() -> None:
    source = (
        "class C:\n    def m(self):\n        def inner():\n            pass\n        return 1\n"
    )

    assert function_lengths(source) == [("C.m", 2, 4), ("C.m.inner", 3, 2)]


@pytest.mark.parametrize("directory", [RUNTIME, CODEGEN], ids=lambda d: d.name)
def test_no_function_is_longer_than_50_lines(directory: Path) -> None:
    too_long = [
        f"{path.name}:{line} {name} ({length} lines)"
        for path in sorted(directory.glob("*.py"))
        for name, line, length in function_lengths(path.read_text(encoding="utf-8"))
        if length > MAX_LINES
    ]

    assert too_long == [], (
        f"functions over {MAX_LINES} lines (def line to end of body, docstring included): "
        "split them into named steps"
    )
