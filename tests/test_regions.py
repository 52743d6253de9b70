"""Regions, marketplaces and the hosts a Configuration picks for them."""

from __future__ import annotations

from typing import Any

import pytest

import py_sp_api
from py_sp_api import EU, FE, MARKETPLACES, NA, REGIONS
from py_sp_api.generated.messaging import ApiValueError, Configuration

NA_HOST = "https://sellingpartnerapi-na.amazon.com"
EU_HOST = "https://sellingpartnerapi-eu.amazon.com"
FE_HOST = "https://sellingpartnerapi-fe.amazon.com"

# Amazon's published marketplace ids and the region serving each.
KNOWN_MARKETPLACES = {
    "A2EUQ1WTGCTBG2": NA_HOST,  # Canada
    "ATVPDKIKX0DER": NA_HOST,  # United States
    "A1AM78C64UM0Y8": NA_HOST,  # Mexico
    "A2Q3Y263D00KWC": NA_HOST,  # Brazil
    "A28R8C7NBKEWEA": EU_HOST,  # Ireland
    "A1RKKUPIHCS9HS": EU_HOST,  # Spain
    "A1F83G8C2ARO7P": EU_HOST,  # United Kingdom
    "A13V1IB3VIYZZH": EU_HOST,  # France
    "AMEN7PMS3EDWL": EU_HOST,  # Belgium
    "A1805IZSGTT6HS": EU_HOST,  # Netherlands
    "A1PA6795UKMFR9": EU_HOST,  # Germany
    "APJ6JRA9NG5V4": EU_HOST,  # Italy
    "A2NODRKZP88ZB9": EU_HOST,  # Sweden
    "AE08WJ6YKNBMC": EU_HOST,  # South Africa
    "A1C3SOZRARQ6R3": EU_HOST,  # Poland
    "ARBP9OOSHTCHU": EU_HOST,  # Egypt
    "A33AVAJ2PDY3EV": EU_HOST,  # Turkey
    "A17E79C6D8DWNP": EU_HOST,  # Saudi Arabia
    "A2VIGQ35RCS4UG": EU_HOST,  # United Arab Emirates
    "A21TJRUUN4KGV": EU_HOST,  # India
    "A19VAU5U5O7RUS": FE_HOST,  # Singapore
    "A39IBJ37TRP1C6": FE_HOST,  # Australia
    "A1VC38T7YXB528": FE_HOST,  # Japan
}


@pytest.mark.parametrize(
    ("marketplace_id", "host"),
    [("ATVPDKIKX0DER", NA_HOST), ("A1PA6795UKMFR9", EU_HOST), ("A1VC38T7YXB528", FE_HOST)],
)
def test_for_marketplace_picks_the_regional_host(marketplace_id: str, host: str) -> None:
    assert Configuration.for_marketplace(marketplace_id).host == host


@pytest.mark.parametrize(
    ("marketplace_id", "host"),
    [
        ("ATVPDKIKX0DER", "https://sandbox.sellingpartnerapi-na.amazon.com"),
        ("A1PA6795UKMFR9", "https://sandbox.sellingpartnerapi-eu.amazon.com"),
        ("A1VC38T7YXB528", "https://sandbox.sellingpartnerapi-fe.amazon.com"),
    ],
)
def test_for_marketplace_sandbox_picks_the_sandbox_host(marketplace_id: str, host: str) -> None:
    assert Configuration.for_marketplace(marketplace_id, sandbox=True).host == host


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("na", NA_HOST),
        ("NA", NA_HOST),
        ("Eu", EU_HOST),
        ("eU", EU_HOST),
        ("FE", FE_HOST),
        ("fe", FE_HOST),
    ],
)
def test_for_region_is_case_insensitive(name: str, host: str) -> None:
    assert Configuration.for_region(name).host == host


def test_for_region_sandbox() -> None:
    config = Configuration.for_region("eu", sandbox=True)
    assert config.host == "https://sandbox.sellingpartnerapi-eu.amazon.com"


def test_for_region_and_for_marketplace_pass_other_settings_through() -> None:
    config = Configuration.for_region("FE", rate_limiting=False, access_token="Atza|fixed")
    assert config.host == FE_HOST
    assert config.rate_limiting.enabled is False
    assert config.token_provider is not None


@pytest.mark.parametrize("name", ["XX", "", "us", "north-america", "N A", "EUROPE"])
def test_an_unknown_region_raises_api_value_error(name: str) -> None:
    with pytest.raises(ApiValueError) as caught:
        Configuration.for_region(name)
    assert "NA" in str(caught.value)


@pytest.mark.parametrize(
    "marketplace_id", ["A000000000000", "", "   ", "atvpdkikx0der", "USA1", "ATVPDKIKX0DER1"]
)
def test_an_unknown_marketplace_raises_api_value_error(marketplace_id: str) -> None:
    with pytest.raises(ApiValueError):
        Configuration.for_marketplace(marketplace_id)


@pytest.mark.parametrize("marketplace_id", ["A000000000000", "", "   "])
def test_the_error_for_an_unknown_marketplace_is_about_marketplaces(marketplace_id: str) -> None:
    # docs/regions.md: the error names what was expected (a marketplace id, not a region).
    with pytest.raises(ApiValueError) as caught:
        Configuration.for_marketplace(marketplace_id)
    assert "marketplace" in str(caught.value).lower(), str(caught.value)


@pytest.mark.parametrize("bad", [None, 1, ["ATVPDKIKX0DER"]])
def test_a_marketplace_id_of_the_wrong_type_raises_api_value_error(bad: Any) -> None:
    with pytest.raises(ApiValueError):
        Configuration.for_marketplace(bad)


def test_every_marketplace_maps_to_one_of_the_three_regions() -> None:
    assert set(REGIONS) == {"NA", "EU", "FE"}
    assert len(MARKETPLACES) >= len(KNOWN_MARKETPLACES)
    for marketplace_id, marketplace in MARKETPLACES.items():
        assert marketplace.id == marketplace_id
        assert marketplace.region in (NA, EU, FE)
        host = Configuration.for_marketplace(marketplace_id).host
        assert host in (NA_HOST, EU_HOST, FE_HOST)
        assert host == marketplace.region.host


@pytest.mark.parametrize(("marketplace_id", "host"), sorted(KNOWN_MARKETPLACES.items()))
def test_amazons_published_marketplaces_are_in_the_right_region(
    marketplace_id: str, host: str
) -> None:
    assert marketplace_id in MARKETPLACES
    assert Configuration.for_marketplace(marketplace_id).host == host


def test_region_endpoints_are_https_and_distinct() -> None:
    hosts = [region.host for region in REGIONS.values()]
    sandboxes = [region.sandbox_host for region in REGIONS.values()]
    assert len(set(hosts + sandboxes)) == 6
    for url in hosts + sandboxes:
        assert url.startswith("https://")
    assert py_sp_api.NA.aws_region == "us-east-1"
    assert py_sp_api.EU.aws_region == "eu-west-1"
    assert py_sp_api.FE.aws_region == "us-west-2"
