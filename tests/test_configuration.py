"""Configuration: secrets stay out of reports and reprs; credentials never go over plain http."""

from __future__ import annotations

import pytest

from py_sp_api import LwaCredentials
from py_sp_api.generated.messaging import Configuration
from py_sp_api.generated.messaging.exceptions import ApiValueError

SECRET = "amzn1.oa2-cs.v1.SECRET-VALUE"
REFRESH = "Atzr|REFRESH-VALUE"


def credentials() -> LwaCredentials:
    return LwaCredentials("amzn1.application-oa2-client.id", SECRET, REFRESH)


def test_debug_report_names_versions_and_settings_but_no_secret() -> None:
    config = Configuration.for_region("EU", credentials=credentials())
    report = config.to_debug_report()
    assert "py-sp-api: " in report
    assert "Host: https://sellingpartnerapi-eu.amazon.com" in report
    assert "Auth: LwaTokenProvider" in report
    assert SECRET not in report
    assert REFRESH not in report


def test_a_token_provider_added_later_to_a_plain_http_remote_host_is_refused() -> None:
    config = Configuration(host="http://sellingpartnerapi-na.amazon.com")
    with pytest.raises(ApiValueError, match="plain http"):
        config.token_provider = Configuration(access_token="Atza|x").token_provider
    assert config.token_provider is None


def test_userinfo_in_the_host_is_not_shown() -> None:
    config = Configuration(host="https://user:hunter2@sellingpartnerapi-na.amazon.com")
    assert "hunter2" not in repr(config)
    assert "hunter2" not in config.to_debug_report()
    with pytest.raises(ApiValueError) as caught:
        Configuration(host="http://user:hunter2@example.com", access_token="Atza|x")
    assert "hunter2" not in str(caught.value)
