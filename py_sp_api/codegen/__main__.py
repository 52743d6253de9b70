"""``python -m py_sp_api.codegen [--out DIR] [--check]``: regenerate (or verify) the client.

``--spec PATH --out DIR`` generates one Amazon model instead, as a package in DIR named after
the file (``ordersV0.json`` -> ``orders_v0``, importable with DIR on ``sys.path``).
"""

from __future__ import annotations

import argparse
import keyword
import sys
from pathlib import Path
from typing import List

from py_sp_api.codegen.formatting import MISSING_RUFF, ruff_binary
from py_sp_api.codegen.generate import (
    GeneratedFile,
    generate,
    generate_package,
    generated_dirs,
    package_name,
    remove_generated,
    repo_root,
    write_files,
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m py_sp_api.codegen", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="root to write into (default: repo)")
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    parser.add_argument(
        "--spec", type=Path, default=None, help="one Amazon model to generate (needs --out)"
    )
    parser.add_argument("--package", default=None, help="with --spec: the package's name")
    options = parser.parse_args()
    if ruff_binary() is None:
        parser.error(MISSING_RUFF)  # before anything is written
    if options.spec is not None:
        return _generate_one(parser, options.spec, options.out, options.package)
    return _generate_bundled(parser, options.out, options.check)


def _generate_bundled(parser: argparse.ArgumentParser, out: Path | None, check: bool) -> int:
    root = out or repo_root()
    if out is None and not (root / "pyproject.toml").is_file():
        # Installed from a wheel: the "repository" is site-packages. Writing there would put a
        # docs/ folder among the installed packages and rewrite the installed client.
        parser.error(
            f"{root} is not a source checkout (no pyproject.toml): regenerate in a clone of "
            "the repository, or pass --out DIR to write the generated files elsewhere"
        )
    files = generate()
    if check:
        return _check(files, root)
    for directory in generated_dirs():
        # Remove what the spec no longer defines, so a dropped model cannot linger.
        for path in sorted((root / directory).rglob("*.py")) + sorted(
            (root / directory).rglob("*.md")
        ):
            path.unlink()
    write_files(files, root)
    print(f"wrote {len(files)} files under {root}")
    return 0


def _check(files: List[GeneratedFile], root: Path) -> int:
    """1 (and each path on stderr) if the files under ``root`` are not exactly ``files``."""
    stale = [f.path for f in files if _read(root / f.path) != f.text]
    expected = {f.path for f in files}
    for directory in generated_dirs():
        for path in sorted((root / directory).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and "__pycache__" not in rel and rel not in expected:
                stale.append(rel + " (not produced by the generator)")
    for rel in stale:
        print(f"out of date: {rel}", file=sys.stderr)
    return 1 if stale else 0


def _generate_one(
    parser: argparse.ArgumentParser, spec: Path, out: Path | None, package: str | None
) -> int:
    if out is None:
        parser.error("--spec needs --out DIR: the shipped packages come from the bundled specs")
    if not spec.is_file():
        parser.error(f"{spec}: no such file")
    name = package or package_name(spec)
    if not name.isidentifier() or keyword.iskeyword(name):
        parser.error(f"{name!r} is not a valid package name: pass --package")
    try:
        files = generate_package(spec, name)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # JSON that is not a Swagger 2.0 model: say which file, not where the reader tripped.
        parser.error(f"{spec}: not a Swagger 2.0 model as Amazon writes them ({exc!r})")
    # A model the spec no longer defines must not linger from an earlier run.
    remove_generated(out / name)
    write_files(files, out)
    print(f"wrote {len(files)} files: package {name} under {out}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main())
