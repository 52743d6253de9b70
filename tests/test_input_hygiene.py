"""Ids that cannot be Amazon's are refused before anything is sent (issue 10, item 4)."""

from __future__ import annotations

from typing import List

import pytest

from py_sp_api import MARKETPLACES
from py_sp_api.generated.messaging import ApiClient, Configuration, MessagingApi
from py_sp_api.generated.messaging.exceptions import ApiValueError
from tests.support import RecordingServer

ORDER = "113-1234567-1234567"
MARKETPLACE = ["ATVPDKIKX0DER"]


@pytest.mark.parametrize(
    "order_id",
    [f" {ORDER}", f"{ORDER} ", f"{ORDER}\n", f"\t{ORDER}", "113-123\x004567-1234567", "113\x7f"],
    ids=["leading-space", "trailing-space", "newline", "tab", "nul", "del"],
)
def test_an_order_id_with_stray_characters_is_refused(
    api: MessagingApi, server: RecordingServer, order_id: str
) -> None:
    with pytest.raises(ApiValueError, match="whitespace at an end or a control character"):
        api.get_attributes(order_id, MARKETPLACE)
    assert server.requests == []


@pytest.mark.parametrize(
    "marketplace_id",
    [" ATVPDKIKX0DER", "ATVPDKIKX0DER ", "atvpdkikx0der", "ATVPDKIKX0DER&x=1", "ATVP-DKIK", "A1"],
)
def test_a_marketplace_id_that_cannot_be_one_is_refused(
    api: MessagingApi, server: RecordingServer, marketplace_id: str
) -> None:
    with pytest.raises(ApiValueError, match="cannot be one"):
        api.get_attributes(ORDER, [marketplace_id])
    assert server.requests == []


def test_a_well_formed_marketplace_id_this_client_does_not_know_still_goes_out(
    api: MessagingApi, server: RecordingServer
) -> None:
    unknown = "A2ZZZZZZZZZZZZ"  # Amazon adds marketplaces; a new one must not need a release
    assert unknown not in MARKETPLACES
    api.get_attributes(ORDER, [unknown])
    assert server.only_request().query == {"marketplaceIds": [unknown]}


@pytest.mark.parametrize("marketplaces", [["ATVPDKIKX0DER"], ("A1PA6795UKMFR9",)])
def test_every_known_marketplace_form_passes(
    server: RecordingServer, marketplaces: List[str]
) -> None:
    with ApiClient(Configuration(host=server.url, rate_limiting=False)) as client:
        api = MessagingApi(client)
        api.get_attributes(ORDER, marketplaces)
        for market in MARKETPLACES.values():
            api.get_attributes(ORDER, [market.id])
    assert len(server.requests) == 1 + len(MARKETPLACES)


def test_for_marketplace_takes_a_country_code_too() -> None:
    assert Configuration.for_marketplace("DE").host == "https://sellingpartnerapi-eu.amazon.com"
    assert Configuration.for_marketplace("jp").host == "https://sellingpartnerapi-fe.amazon.com"
    assert Configuration.for_marketplace("UK").host == Configuration.for_marketplace("GB").host
    assert (
        Configuration.for_marketplace("US", sandbox=True).host
        == "https://sandbox.sellingpartnerapi-na.amazon.com"
    )


@pytest.mark.parametrize(
    ("given", "suggestion"),
    [("ATVPDKIKX0DR", "ATVPDKIKX0DER"), ("A1PA6795UKMFR", "A1PA6795UKMFR9"), ("DEU", "DE")],
)
def test_an_unknown_marketplace_suggests_the_closest_and_where_the_list_is(
    given: str, suggestion: str
) -> None:
    with pytest.raises(ApiValueError) as caught:
        Configuration.for_marketplace(given)
    message = str(caught.value)
    assert f"did you mean {suggestion!r}" in message
    assert "py_sp_api.MARKETPLACES" in message
    assert "py_sp_api.regions" not in message  # that module does not exist


def test_docs_list_every_marketplace_id() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "regions.md").read_text()
    for market in MARKETPLACES.values():
        assert f"`{market.id}`" in text, market
