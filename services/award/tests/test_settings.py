from __future__ import annotations

import pytest
from pydantic import ValidationError

from microcred.award.settings import AwardSettings

PRODUCTION = {
    "mode": "production",
    "database_url": "postgresql+asyncpg://award:s3cret@db:5432/award",
    "auth_jwks_url": "https://id.example.org/jwks.json",
}


def test_production_refuses_the_local_identity_salt() -> None:
    with pytest.raises(ValidationError, match="identity_salt"):
        AwardSettings(**PRODUCTION)


def test_production_starts_with_its_own_identity_salt() -> None:
    settings = AwardSettings(**PRODUCTION, identity_salt="a-deployment-specific-salt")
    assert settings.default_secrets_in_use() == []


def test_local_defaults_are_the_award_service_ones() -> None:
    settings = AwardSettings()
    assert (settings.service_name, settings.http_port) == ("award", 15413)
    assert settings.database_url.endswith("/award")
