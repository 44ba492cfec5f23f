from __future__ import annotations

import pytest
from pydantic import ValidationError

from microcred.award.settings import AwardSettings

PRODUCTION = {
    "mode": "production",
    "database_url": "postgresql+asyncpg://award:s3cret@db:5432/award",
    "auth_jwks_url": "https://id.example.org/jwks.json",
    # The brokers as production reaches them (the rule itself is tested in libs/runtime).
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_username": "microcred-award",
    "kafka_sasl_password": "s3cret",
}


def test_production_refuses_the_local_identity_salt() -> None:
    with pytest.raises(ValidationError, match="identity_salt"):
        AwardSettings(**PRODUCTION)


OWN_SECRETS = {
    "identity_salt": "a-deployment-specific-salt",
    "key_encryption_key": "ZGVwbG95bWVudC1zcGVjaWZpYy0zMi1ieXRlLWtleSE",
    "public_base_url": "https://credentials.example.org",
}


def test_production_refuses_the_local_key_encryption_key() -> None:
    with pytest.raises(ValidationError, match="key_encryption_key"):
        AwardSettings(**PRODUCTION, **(OWN_SECRETS | {"key_encryption_key": AwardSettings().key_encryption_key}))


def test_production_refuses_to_sign_credentials_that_point_at_a_plain_http_address() -> None:
    with pytest.raises(ValidationError, match="public_base_url"):
        AwardSettings(**PRODUCTION, **(OWN_SECRETS | {"public_base_url": "http://award:8000"}))


def test_production_starts_with_its_own_secrets_and_https_address() -> None:
    settings = AwardSettings(**PRODUCTION, **OWN_SECRETS)
    assert settings.default_secrets_in_use() == []


def test_local_defaults_are_the_award_service_ones() -> None:
    settings = AwardSettings()
    assert (settings.service_name, settings.http_port) == ("award", 15413)
    assert settings.database_url.endswith("/award")
