"""The reliability endpoint and gauges through the real composition root (no lifespan: nothing connects)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from microcred.review.bootstrap import build_app
from microcred.review.settings import ReviewSettings
from microcred.runtime.auth import DevTokenIssuer, Role


@pytest.fixture
def tokens(tmp_path: Path) -> DevTokenIssuer:
    return DevTokenIssuer(tmp_path / "auth")


@pytest.fixture
def client(tokens: DevTokenIssuer) -> Iterator[TestClient]:
    yield TestClient(build_app(ReviewSettings(auth_jwks_url=tokens.jwks_url)))


def test_reliability_is_for_operators_only(client: TestClient, tokens: DevTokenIssuer) -> None:
    assert client.get("/reliability").status_code == 401
    reviewer = {"Authorization": f"Bearer {tokens.mint('alice', [Role.REVIEWER])}"}
    assert client.get("/reliability", headers=reviewer).status_code == 403


def test_the_reliability_gauges_are_exposed_with_the_service_metrics(client: TestClient) -> None:
    metrics = client.get("/metrics").text
    for name in ("microcred_review_reviewer_kappa", "microcred_review_reviewer_agreement",
                 "microcred_review_flagged_reviewers"):
        assert f"# HELP {name} " in metrics


def test_double_scoring_and_reliability_settings_have_the_documented_defaults() -> None:
    settings = ReviewSettings()
    assert (settings.calibration_size, settings.double_score_share) == (50, 0.10)
    assert (settings.min_kappa, settings.min_agreement, settings.min_pairs_for_flag) == (0.6, 0.8, 10)
    assert settings.block_flagged_reviewers is False
