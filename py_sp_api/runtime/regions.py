"""SP-API regions, their endpoints, and the marketplaces each one serves."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from py_sp_api.runtime.exceptions import ApiValueError


@dataclass(frozen=True)
class Region:
    """One SP-API region: its production and sandbox endpoints and its AWS region."""

    code: str
    host: str
    sandbox_host: str
    aws_region: str

    def endpoint(self, sandbox: bool = False) -> str:
        return self.sandbox_host if sandbox else self.host


@dataclass(frozen=True)
class Marketplace:
    id: str
    country_code: str
    name: str
    region: Region


NA = Region(
    "NA",
    "https://sellingpartnerapi-na.amazon.com",
    "https://sandbox.sellingpartnerapi-na.amazon.com",
    "us-east-1",
)
EU = Region(
    "EU",
    "https://sellingpartnerapi-eu.amazon.com",
    "https://sandbox.sellingpartnerapi-eu.amazon.com",
    "eu-west-1",
)
FE = Region(
    "FE",
    "https://sellingpartnerapi-fe.amazon.com",
    "https://sandbox.sellingpartnerapi-fe.amazon.com",
    "us-west-2",
)

REGIONS: Mapping[str, Region] = MappingProxyType({"NA": NA, "EU": EU, "FE": FE})

_MARKETPLACE_ROWS = (
    ("A2EUQ1WTGCTBG2", "CA", "Canada", NA),
    ("ATVPDKIKX0DER", "US", "United States", NA),
    ("A1AM78C64UM0Y8", "MX", "Mexico", NA),
    ("A2Q3Y263D00KWC", "BR", "Brazil", NA),
    ("A28R8C7NBKEWEA", "IE", "Ireland", EU),
    ("A1RKKUPIHCS9HS", "ES", "Spain", EU),
    ("A1F83G8C2ARO7P", "GB", "United Kingdom", EU),
    ("A13V1IB3VIYZZH", "FR", "France", EU),
    ("AMEN7PMS3EDWL", "BE", "Belgium", EU),
    ("A1805IZSGTT6HS", "NL", "Netherlands", EU),
    ("A1PA6795UKMFR9", "DE", "Germany", EU),
    ("APJ6JRA9NG5V4", "IT", "Italy", EU),
    ("A2NODRKZP88ZB9", "SE", "Sweden", EU),
    ("AE08WJ6YKNBMC", "ZA", "South Africa", EU),
    ("A1C3SOZRARQ6R3", "PL", "Poland", EU),
    ("ARBP9OOSHTCHU", "EG", "Egypt", EU),
    ("A33AVAJ2PDY3EV", "TR", "Turkey", EU),
    ("A17E79C6D8DWNP", "SA", "Saudi Arabia", EU),
    ("A2VIGQ35RCS4UG", "AE", "United Arab Emirates", EU),
    ("A21TJRUUN4KGV", "IN", "India", EU),
    ("A19VAU5U5O7RUS", "SG", "Singapore", FE),
    ("A39IBJ37TRP1C6", "AU", "Australia", FE),
    ("A1VC38T7YXB528", "JP", "Japan", FE),
)

MARKETPLACES: Mapping[str, Marketplace] = MappingProxyType(
    {row[0]: Marketplace(*row) for row in _MARKETPLACE_ROWS}
)
"""Every marketplace this client knows, by id (each also names its country and region)."""

_BY_COUNTRY: Mapping[str, Marketplace] = MappingProxyType(
    {market.country_code: market for market in MARKETPLACES.values()}
)


def region(name: str) -> Region:
    """The region called ``name`` (``"na"``, ``"EU"``, ``"Fe"``...); a clear error otherwise."""
    if not isinstance(name, str):
        raise ApiValueError(f"region must be a str such as 'NA', 'EU' or 'FE', got {name!r}")
    try:
        return REGIONS[name.strip().upper()]
    except KeyError:
        raise ApiValueError(
            f"unknown region {name!r}; expected one of {', '.join(REGIONS)}"
        ) from None


def marketplace(marketplace_id: str) -> Marketplace:
    """The marketplace with id ``marketplace_id`` (e.g. ``"A1PA6795UKMFR9"``) or country code.

    A two-letter country code (``"DE"``; ``"UK"`` for ``"GB"``) is accepted too. An unknown
    value raises :class:`ApiValueError` suggesting the closest id or code.
    """
    key = marketplace_id.strip() if isinstance(marketplace_id, str) else ""
    found = MARKETPLACES.get(key) or _BY_COUNTRY.get(_country(key))
    if found is None:
        raise ApiValueError(
            f"unknown marketplace {marketplace_id!r}{_closest(key)}; every marketplace id and "
            "country code is listed in py_sp_api.MARKETPLACES"
        )
    return found


def _country(code: str) -> str:
    code = code.upper()
    return "GB" if code == "UK" else code


def _closest(key: str) -> str:
    candidates = [*MARKETPLACES, *_BY_COUNTRY]
    match = difflib.get_close_matches(key.upper(), candidates, n=1, cutoff=0.6)
    if not match:
        return ""
    market = MARKETPLACES.get(match[0]) or _BY_COUNTRY[match[0]]
    return f"; did you mean {match[0]!r} ({market.name})?"


def marketplace_by_country(country_code: str) -> Marketplace:
    """The marketplace of a country (ISO 3166 code, ``"UK"`` accepted for ``"GB"``)."""
    code = _country(country_code.strip()) if isinstance(country_code, str) else ""
    found = _BY_COUNTRY.get(code)
    if found is None:
        raise ApiValueError(f"no marketplace for country {country_code!r}{_closest(code)}")
    return found


def host_for(*, marketplace_id: str | None = None, region_name: str | None = None,
             sandbox: bool = False) -> str:  # fmt: skip
    """The endpoint for a marketplace id or a region name (exactly one of them)."""
    if (marketplace_id is None) == (region_name is None):
        raise ApiValueError("give exactly one of marketplace_id or region_name")
    if marketplace_id is not None:
        return marketplace(marketplace_id).region.endpoint(sandbox)
    chosen = region(region_name or "")
    return chosen.endpoint(sandbox)


__all__ = [
    "EU",
    "FE",
    "MARKETPLACES",
    "Marketplace",
    "NA",
    "REGIONS",
    "Region",
    "host_for",
    "marketplace",
    "marketplace_by_country",
    "region",
]
