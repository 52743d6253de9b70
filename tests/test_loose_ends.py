"""Jupyter reprs, packaging and tooling loose ends (issue 10, item 9; issue 16)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from py_sp_api import LwaCredentials
from py_sp_api.generated.messaging import ApiClient, Configuration, MessagingApi
from py_sp_api.runtime.docs_links import DOCS_URL
from py_sp_api.testing import MessagingSandbox
from tests.support.fake_lwa import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN

REPO = Path(__file__).resolve().parents[1]
SECRETS = (CLIENT_SECRET, REFRESH_TOKEN, "Atza|static-secret")


def test_the_sandbox_client_and_api_say_where_they_point_and_how_they_authenticate() -> None:
    with MessagingSandbox() as sandbox:
        shown = repr(sandbox)
        assert shown.startswith(f"MessagingSandbox(url={sandbox.url!r}, mode='simulator'")
        client = ApiClient(sandbox.configuration(access_token="Atza|static-secret"))
        assert repr(client) == (
            f"ApiClient(host={sandbox.url!r}, credentials='fixed access token', rate_limiting='on')"
        )
        api = MessagingApi(client)
        assert repr(api) == (
            f"MessagingApi(host={sandbox.url!r}, credentials='fixed access token', operations=13)"
        )
    assert repr(sandbox) == "MessagingSandbox(not running, mode='simulator')"
    strict = MessagingSandbox(strict=True)
    assert "strict" in repr(strict)


def test_reprs_never_show_a_secret() -> None:
    credentials = LwaCredentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)
    with_lwa = ApiClient(Configuration(credentials=credentials))
    without = ApiClient(Configuration())
    shown = [repr(with_lwa), repr(MessagingApi(with_lwa)), repr(without)]
    assert "credentials='LWA refresh token'" in shown[0]
    assert "credentials='none (no access token is sent)'" in shown[2]
    for text in shown:
        for secret in SECRETS:
            assert secret not in text


def test_codegen_refuses_to_write_into_an_installed_package(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    shutil.copytree(REPO / "py_sp_api", site / "py_sp_api")
    env = {**os.environ, "PYTHONPATH": str(site)}
    refused = subprocess.run(
        [sys.executable, "-m", "py_sp_api.codegen"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert "not a source checkout" in refused.stderr
    assert not (site / "docs").exists()
    # --out still works from an installed package.
    out = tmp_path / "out"
    written = subprocess.run(
        [sys.executable, "-m", "py_sp_api.codegen", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    assert (out / "docs" / "MessagingApi.md").is_file()


def _pyproject() -> str:
    return (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_the_sdist_includes_only_files_that_exist() -> None:
    include = re.search(
        r"\[tool\.hatch\.build\.targets\.sdist\]\s*include = \[(.*?)\]", _pyproject(), re.S
    )
    assert include
    names = re.findall(r'"([^"]+)"', include.group(1))
    assert names
    for name in names:
        assert (REPO / name).exists(), name


def test_project_urls_point_where_errors_point() -> None:
    urls = re.search(r"\[project\.urls\](.*?)\n\[", _pyproject(), re.S)
    assert urls
    assert f'Documentation = "{DOCS_URL}"' in urls.group(1)


def test_the_mutation_score_script_counts_timeouts_as_killed_and_lists_the_rest() -> None:
    results = "\n".join(
        [
            "    py_sp_api.runtime.retry.x_delay__mutmut_1: killed",
            "    py_sp_api.runtime.retry.x_delay__mutmut_2: timeout",
            "    py_sp_api.runtime.retry.x_delay__mutmut_3: survived",
            "    py_sp_api.runtime.retry.x_delay__mutmut_4: killed",
            "    py_sp_api.runtime.auth.x\u01c1SecretStr\u01c1__repr____mutmut_1: no tests",
            "mutmut's own chatter is not a result",
        ]
    )
    scored = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "mutation_scores.py")],
        input=results,
        capture_output=True,
        text=True,
        check=True,
        encoding="utf-8",
    )
    rows = {line.split()[0]: line.split() for line in scored.stdout.splitlines()[1:]}
    assert rows["py_sp_api.runtime.retry"][1:4] == ["4", "3", "75.0%"]
    assert "1 survived" in scored.stdout
    assert rows["py_sp_api.runtime.auth"][1:4] == ["1", "0", "0.0%"]
    assert rows["all"][1:4] == ["5", "3", "60.0%"]


def test_the_mutation_score_script_says_when_it_was_given_nothing() -> None:
    scored = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "mutation_scores.py")],
        input="",
        capture_output=True,
        text=True,
        check=False,
    )
    assert scored.returncode == 1
    assert "mutmut results" in scored.stderr
