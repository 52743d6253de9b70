"""Operations Amazon removed from its Messaging model: flagged from data, warned about on call."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Set

import pytest

from py_sp_api.generated.messaging import MessagingApi
from py_sp_api.generated.messaging.operations import OPERATIONS
from py_sp_api.runtime.operation import Removal

# The module, not the package's re-exported generate() function.
generate = importlib.import_module("py_sp_api.codegen.generate")
REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "py_sp_api" / "specs"
SHARED_SPECS = REPO.parent / "shared" / "spec"
NEWER_MODEL = "messaging-2026-01.json"


def operation_ids(spec_file: Path) -> Set[str]:
    spec: Dict[str, Any] = json.loads(spec_file.read_text(encoding="utf-8"))
    return {
        op["operationId"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    }


def test_flagged_operations_are_exactly_those_missing_from_amazons_current_model() -> None:
    missing = operation_ids(SPECS / "messaging.json") - operation_ids(SPECS / NEWER_MODEL)
    flagged = {op.operation_id for op in OPERATIONS.values() if op.removed is not None}
    assert flagged == missing
    assert flagged == {"createNegativeFeedbackRemoval", "CreateAmazonMotors"}
    # Everything else is in the current model, and not flagged.
    assert len(OPERATIONS) - len(flagged) == len(operation_ids(SPECS / NEWER_MODEL)) == 11


def test_removal_dates_and_commits_are_amazons() -> None:
    assert OPERATIONS["create_negative_feedback_removal"].removed == Removal(
        removed_on="2025-08-04", model_commit="7c93eb1"
    )
    assert OPERATIONS["create_amazon_motors"].removed == Removal(
        removed_on="2026-01-30", model_commit="b9dffa4"
    )
    # The usage-plan metadata is unchanged for them.
    assert MessagingApi.rate_limit("create_amazon_motors").rate == 1.0


@pytest.mark.skipif(not SHARED_SPECS.is_dir(), reason="../shared is not beside this checkout")
def test_bundled_newer_model_is_amazons_file_byte_for_byte() -> None:
    assert (SPECS / NEWER_MODEL).read_bytes() == (SHARED_SPECS / NEWER_MODEL).read_bytes()


def test_generator_refuses_a_data_file_that_disagrees_with_the_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(generate.REMOVED_OPERATIONS.read_text(encoding="utf-8"))
    del data["messaging.json"]["operations"]["CreateAmazonMotors"]
    wrong = tmp_path / "removed_operations.json"
    wrong.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(generate, "REMOVED_OPERATIONS", wrong)
    with pytest.raises(ValueError, match=r"lacks .*CreateAmazonMotors"):
        generate.generate()


def test_docs_and_docstrings_mark_the_removed_operations() -> None:
    reference = (REPO / "docs" / "MessagingApi.md").read_text(encoding="utf-8")
    for name, removal in (
        ("create_negative_feedback_removal", "2025-08-04"),
        ("create_amazon_motors", "2026-01-30"),
    ):
        row = next(line for line in reference.splitlines() if line.startswith(f"[**{name}**]"))
        assert f"**Removed by Amazon {removal}.**" in row
        doc = getattr(MessagingApi, name).__doc__
        assert doc.startswith("Removed by Amazon:"), doc
        assert removal in doc
    kept = next(line for line in reference.splitlines() if line.startswith("[**get_attributes**]"))
    assert "Removed" not in kept
    assert "Removed" not in (MessagingApi.get_attributes.__doc__ or "")


WARNING_SCRIPT = textwrap.dedent(
    """
    import warnings
    from py_sp_api.generated.messaging import ApiClient, CreateAmazonMotorsRequest, MessagingApi
    from py_sp_api.testing import MessagingSandbox

    warnings.simplefilter("always")
    body = CreateAmazonMotorsRequest.from_dict(
        {"attachments": [{"uploadDestinationId": "4e936e26-7b72-4b84-af27-e6baee1d546d",
                          "fileName": "AmazonMotors.txt"}]}
    )
    order, marketplaces = "123-1234567-1234567", ["ATVPDKIKX0DER"]
    with MessagingSandbox() as sandbox, ApiClient(sandbox.configuration()) as client:
        api = MessagingApi(client)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            api.get_attributes(order, marketplaces)
            api.create_amazon_motors(order, marketplaces, body)
            api.create_amazon_motors_with_http_info(order, marketplaces, body)
            api.create_negative_feedback_removal_without_preload_content(order, marketplaces)
            api.create_negative_feedback_removal(order, marketplaces)
    for w in caught:
        print(w.category.__name__, w.filename == __file__, w.message, sep="|")
    """
)


def test_calling_a_removed_operation_warns_once_per_process(tmp_path: Path) -> None:
    script = tmp_path / "seller_script.py"
    script.write_text(WARNING_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines  # one per removed operation, whichever variant was called
    motors, feedback = (line.split("|") for line in lines)
    # Pointing at the seller's own line, so the default filters show it in scripts.
    assert motors[:2] == feedback[:2] == ["DeprecationWarning", "True"]
    assert motors[2].startswith("create_amazon_motors: Amazon removed CreateAmazonMotors")
    assert "2026-01-30" in motors[2]
    assert feedback[2].startswith(
        "create_negative_feedback_removal: Amazon removed createNegativeFeedbackRemoval"
    )
    assert "2025-08-04" in feedback[2]
