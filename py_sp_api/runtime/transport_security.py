"""Where credentials may be sent: HTTPS anywhere, plain HTTP only to this machine."""

from __future__ import annotations

import ipaddress

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from py_sp_api.runtime.exceptions import ApiValueError

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback_host(hostname: str) -> bool:
    name = hostname.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_secure_url(url: str) -> bool:
    """True for ``https://`` URLs and for ``http://`` URLs that point at a loopback address."""
    # Parse with urllib3, the parser the transport uses: a lookalike such as
    # "http://example.com\\@127.0.0.1" must be judged by where it would really be sent.
    try:
        parts = parse_url(url)
    except LocationParseError:
        return False
    scheme = (parts.scheme or "").lower()
    if scheme == "https":
        return True
    return scheme == "http" and _is_loopback_host(parts.host or "")


def require_secure_url(url: str, *, what: str) -> str:
    if not isinstance(url, str) or not is_secure_url(url):
        shown = redact_url(url) if isinstance(url, str) else repr(url)
        raise ApiValueError(
            f"{what} must use https:// (plain http:// is allowed only to a loopback address) "
            f"because credentials are sent to it; got {shown!r}"
        )
    return url


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    return f"{scheme}{sep}***@{authority.rsplit('@', 1)[1]}{slash}{path}"


__all__ = [
    "is_secure_url",
    "redact_url",
    "require_secure_url",
]
