from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from microcred.runtime.auth import DevTokenIssuer, InvalidToken, JwtVerifier, Role
from microcred.runtime.settings import ServiceSettings


def test_production_mode_refuses_local_default_secrets() -> None:
    with pytest.raises(ValidationError, match="database_url still has its local default"):
        ServiceSettings(mode="production", auth_jwks_url="https://idp.example/jwks")


def test_production_mode_requires_an_https_jwks() -> None:
    with pytest.raises(ValidationError, match="auth_jwks_url"):
        ServiceSettings(mode="production", database_url="postgresql+asyncpg://svc:s3cret@db/catalog",
                        auth_jwks_url="file:///tmp/jwks.json")


def test_local_mode_starts_with_defaults() -> None:
    assert ServiceSettings().mode == "local"


def test_dev_tokens_verify_with_roles_states_and_organization(tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path)
    verifier = JwtVerifier(issuer.jwks_url, issuer=issuer.issuer, audience=issuer.audience)
    principal = verifier.verify(issuer.mint("t-1", [Role.TEACHER], states=["tn"], organization="org-1"))
    assert principal.subject == "t-1" and principal.has(Role.TEACHER) and not principal.has(Role.OPERATOR)
    assert principal.states == ("TN",) and principal.organization == "org-1"


def test_expired_foreign_or_tampered_tokens_are_refused(tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path / "a")
    verifier = JwtVerifier(issuer.jwks_url, issuer=issuer.issuer, audience=issuer.audience)
    with pytest.raises(InvalidToken):
        verifier.verify(issuer.mint("t-1", [Role.TEACHER], ttl_seconds=-10))
    with pytest.raises(InvalidToken):
        verifier.verify(DevTokenIssuer(tmp_path / "b").mint("t-1", [Role.OPERATOR]))
    token = issuer.mint("t-1", [Role.TEACHER])
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims | {"roles": ["operator"], "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256",
                        headers={"kid": issuer.kid})
    with pytest.raises(InvalidToken):
        verifier.verify(forged)


def test_the_dev_issuer_keeps_its_key_across_restarts(tmp_path: Path) -> None:
    token = DevTokenIssuer(tmp_path).mint("t-1", [Role.TEACHER])
    again = DevTokenIssuer(tmp_path)
    JwtVerifier(again.jwks_url, issuer=again.issuer, audience=again.audience).verify(token)


def test_affiliations_travel_in_the_token_for_conflict_of_interest_checks(tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path)
    verifier = JwtVerifier(issuer.jwks_url, issuer=issuer.issuer, audience=issuer.audience)
    principal = verifier.verify(issuer.mint("t-1", [Role.TEACHER], district="d-7", school="s-42"))
    assert (principal.district, principal.school) == ("d-7", "s-42")
    assert verifier.verify(issuer.mint("t-2", [Role.TEACHER])).district is None


def test_a_verified_token_is_remembered_but_never_past_its_expiry(tmp_path: Path) -> None:
    issuer = DevTokenIssuer(tmp_path)
    verifier = JwtVerifier(issuer.jwks_url, issuer=issuer.issuer, audience=issuer.audience)
    token = issuer.mint("t-1", [Role.TEACHER], ttl_seconds=2)
    assert verifier.remembered(token) is None, "nothing is remembered before a signature was checked"
    first = verifier.verify(token)
    assert verifier.remembered(token) == first
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        verifier.verify(tampered)  # a different string is never answered from memory
    time.sleep(2.1)
    assert verifier.remembered(token) is None
    with pytest.raises(InvalidToken):
        verifier.verify(token)


@pytest.mark.parametrize(
    ("given", "used"),
    [
        # CloudNativePG's app secret, key `uri`: the password is percent-encoded and must stay so.
        ("postgresql://catalog:p%40ss%2Fw%3Ard@catalog-db-rw.microcred:5432/catalog",
         "postgresql+asyncpg://catalog:p%40ss%2Fw%3Ard@catalog-db-rw.microcred:5432/catalog"),
        ("postgres://u:p@db.example:6432/award?sslmode=require",
         "postgresql+asyncpg://u:p@db.example:6432/award?ssl=require"),
        ("postgresql+asyncpg://u:p@h/review", "postgresql+asyncpg://u:p@h/review"),
    ],
)
def test_a_plain_postgresql_uri_is_used_through_asyncpg(given: str, used: str) -> None:
    settings = ServiceSettings(database_url=given)
    assert settings.database_url == used
    url = make_url(settings.database_url)
    assert url.password == make_url(given).password and url.drivername == "postgresql+asyncpg"


@pytest.mark.parametrize("given", ["catalog-db-rw:5432/catalog", "u:hunter2@db/catalog",
                                   "postgresql://u:hunter2@db:notaport/catalog"])
def test_a_database_url_that_is_no_url_is_a_settings_error_that_does_not_echo_it(given: str) -> None:
    with pytest.raises(ValidationError, match="database_url\n  Value error, is not a database URL") as refused:
        ServiceSettings(database_url=given)
    assert "hunter2" not in str(refused.value) and given not in str(refused.value)


def test_a_service_settings_subclass_normalises_its_database_url_too() -> None:
    from microcred.award.settings import AwardSettings

    assert AwardSettings(database_url="postgresql://a:b@h/award").database_url == "postgresql+asyncpg://a:b@h/award"
