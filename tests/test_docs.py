"""Every code block in README.md and docs/ runs, against the local sandbox, so docs cannot rot.

Python blocks of one page run in order in one namespace (like a notebook), with Amazon's hosts
pointed at a local ``MessagingSandbox`` and LWA at a local fake. Blocks that define pytest tests
are run by pytest in a subprocess. Shell blocks are checked by running each ``python -m``
command with ``--help`` (or ``--check`` for the generator), so a renamed module or flag fails.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest

from py_sp_api.generated.messaging import (
    ApiClient,
    Attachment,
    Configuration,
    CreateWarrantyRequest,
    MessagingApi,
)
from py_sp_api.runtime import regions
from py_sp_api.testing import MessagingSandbox
from tests.support.fake_lwa import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeLwa

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", *REPO.glob("docs/**/*.md")])
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
AMAZON_HOSTS = sorted(
    {h for r in regions.REGIONS.values() for h in (r.host, r.sandbox_host)}, key=len, reverse=True
)


def blocks(page: Path, language: str) -> List[str]:
    return [code for lang, code in FENCE.findall(page.read_text()) if lang == language]


def page_id(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


PYTHON_PAGES = [p for p in PAGES if blocks(p, "python")]
SHELL_PAGES = [p for p in PAGES if blocks(p, "bash")]


@pytest.fixture
def doc_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tuple[MessagingSandbox, FakeLwa]]:
    with MessagingSandbox() as sandbox, FakeLwa() as lwa:
        monkeypatch.setenv("LWA_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("LWA_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("LWA_REFRESH_TOKEN", REFRESH_TOKEN)
        monkeypatch.setenv("LWA_ENDPOINT", lwa.url)
        yield sandbox, lwa


def _namespace(sandbox: MessagingSandbox, lwa: FakeLwa) -> Dict[str, Any]:
    """What a page may assume exists: the names its prose introduces."""

    def redirected(factory: Any) -> Any:
        def build(*args: Any, **kwargs: Any) -> Configuration:
            config: Configuration = factory(*args, **kwargs)
            assert config.host in AMAZON_HOSTS, config.host
            config.host = sandbox.url  # the one change: Amazon's host -> the local sandbox
            return config

        return build

    client = ApiClient(sandbox.configuration())
    return {
        "__name__": "__doc_example__",
        "_doc_for_marketplace": redirected(Configuration.for_marketplace),
        "_doc_for_region": redirected(Configuration.for_region),
        "api": MessagingApi(client),
        "order_id": "123-1234567-1234567",
        "marketplace_id": "ATVPDKIKX0DER",
        "body": CreateWarrantyRequest(
            attachments=[Attachment(upload_destination_id="u-1", file_name="warranty.pdf")]
        ),
        "credentials": lwa.credentials(),
        "my_token_cache": type("TokenCache", (), {"current": staticmethod(lambda: "Atza|x")})(),
    }


def _localise(code: str, sandbox_url: str) -> str:
    for host in AMAZON_HOSTS:
        code = code.replace(host, sandbox_url)
    code = code.replace("Configuration.for_marketplace(", "_doc_for_marketplace(")
    return code.replace("Configuration.for_region(", "_doc_for_region(")


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=page_id)
def test_every_python_block_runs(page: Path, doc_environment: Any, tmp_path: Path) -> None:
    sandbox, lwa = doc_environment
    namespace = _namespace(sandbox, lwa)
    for number, code in enumerate(blocks(page, "python"), 1):
        if re.search(r"^def test_", code, re.MULTILINE):
            _run_with_pytest(code, tmp_path / f"test_doc_{number}.py")
            continue
        before = len(sandbox.requests)
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(
                compile(_localise(code, sandbox.url), f"{page_id(page)}[{number}]", "exec"),
                namespace,
            )
        if page.name.endswith("Api.md") and "ApiClient(configuration)" in code:
            # Each reference example makes one call, and it must succeed.
            answered = [r.status for r in sandbox.requests[before:]]
            assert len(answered) == 1, (number, output.getvalue())
            assert answered[0] < 300, (number, answered, output.getvalue())
        if page.parent.name == "models":
            assert output.getvalue().startswith("{"), output.getvalue()


# The names a page's prose introduces (see _namespace), declared for the type checker.
_PRELUDE_IMPORTS = """\
from py_sp_api import LwaCredentials
from py_sp_api.generated.messaging import CreateWarrantyRequest, MessagingApi


class _TokenCache:
    def current(self) -> str:
        raise NotImplementedError
"""
_PRELUDE_NAMES = {
    "api": "MessagingApi",
    "order_id": "str",
    "marketplace_id": "str",
    "body": "CreateWarrantyRequest",
    "credentials": "LwaCredentials",
    "my_token_cache": "_TokenCache",
}


def _bound_names(code: str) -> Set[str]:
    bound: Set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
    return bound


def _typed_module(codes: List[str]) -> str:
    """The blocks as one module, with the prose's names declared where the blocks use them."""
    code = "\n\n".join(codes)
    free = sorted(set(_PRELUDE_NAMES) - _bound_names(code))
    declared = [f"{name}: {_PRELUDE_NAMES[name]}" for name in free]
    return "\n".join([_PRELUDE_IMPORTS, *declared, "", code])


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy 2.4 needs Python 3.10 or newer"
)
def test_every_python_block_type_checks(tmp_path: Path) -> None:
    for page in PYTHON_PAGES:
        codes = blocks(page, "python")
        # A generated page's examples are independent (each reuses names with other types), and
        # so are blocks that are pytest files; a written page's other blocks share a namespace.
        independent = page.name.endswith("Api.md") or page.parent.name == "models"
        units = [[c] for c in codes if independent or re.search(r"^def test_", c, re.MULTILINE)]
        shared = [] if independent else [c for c in codes if [c] not in units]
        stem = re.sub(r"\W", "_", page_id(page))
        for number, unit in enumerate([*units, shared] if shared else units):
            (tmp_path / f"{stem}_{number}.py").write_text(_typed_module(unit))
    config = REPO / "pyproject.toml"  # strict, with the pydantic plugin, as for the package
    mypy = [sys.executable, "-m", "mypy", "--config-file", str(config), "--strict"]
    result = subprocess.run(
        [*mypy, "--no-incremental", "--pretty", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _run_with_pytest(code: str, path: Path) -> None:
    path.write_text(code)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b[1-9]\d* passed\b", result.stdout), result.stdout


def _python_commands(page: Path) -> List[List[str]]:
    commands = []
    for code in blocks(page, "bash"):
        for line in code.splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words: List[str] = []
            for token in [*lexer, ";"]:
                if token not in ("&&", ";", "||", "|"):
                    words.append(token)
                    continue
                if len(words) >= 3 and words[0] in ("python", "python3") and words[1] == "-m":
                    commands.append(words[2:])
                words = []
    return commands


@pytest.mark.parametrize("page", SHELL_PAGES, ids=page_id)
def test_every_python_command_in_shell_blocks_exists(page: Path) -> None:
    for module, *flags in _python_commands(page):
        if module in ("pip", "venv", "pytest"):
            continue
        probe = ["--check"] if module == "py_sp_api.codegen" else ["--help"]
        result = subprocess.run(
            [sys.executable, "-m", module, *probe],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            check=False,
        )
        assert result.returncode == 0, (module, result.stderr)
        for flag in (f.split("=")[0] for f in flags if f.startswith("--")):
            assert flag in result.stdout or module == "py_sp_api.codegen", (module, flag)
