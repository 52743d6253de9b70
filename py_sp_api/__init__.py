"""py-sp-api: a typed, rate-aware client for Amazon's Selling Partner API.

Importing this package configures nothing: no logging handlers, no network, no global state.
The Messaging client lives in :mod:`py_sp_api.generated.messaging`.
"""

from py_sp_api._version import __version__

__all__ = ["__version__"]
