import pytest
from pydantic import ValidationError

from microcred.canary.settings import CanarySettings


def test_production_refuses_development_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICROCRED_MODE", "production")
    with pytest.raises(ValidationError, match="MICROCRED_CANARY_AUTH must be 'files'"):
        CanarySettings()
    monkeypatch.setenv("MICROCRED_CANARY_AUTH", "files")
    assert CanarySettings().canary_auth == "files"
