"""Submission's object-store settings cover any S3: AWS itself, S3-compatible stores, roles instead of keys."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from microcred.submission.adapters.evidence_store import EvidenceStore
from microcred.submission.settings import SubmissionSettings


def test_an_empty_endpoint_means_aws_s3_in_the_configured_region() -> None:
    settings = SubmissionSettings(s3_endpoint="", s3_region="us-gov-west-1")
    assert settings.s3_endpoint == "https://s3.us-gov-west-1.amazonaws.com"
    assert settings.s3_public_endpoint == settings.s3_endpoint


def test_aws_urls_name_the_bucket_in_the_host_and_other_stores_in_the_path() -> None:
    aws = EvidenceStore(SubmissionSettings(s3_endpoint="", s3_region="us-east-2", s3_bucket="evidence"))
    other = EvidenceStore(SubmissionSettings(s3_endpoint="https://objects.state.example", s3_bucket="evidence"))
    assert aws._signer.presigned_get_object("evidence", "k").startswith(
        "https://evidence.s3.us-east-2.amazonaws.com/k?")
    assert other._signer.presigned_get_object("evidence", "k").startswith("https://objects.state.example/evidence/k?")


def test_the_addressing_style_can_be_forced_either_way() -> None:
    virtual = EvidenceStore(SubmissionSettings(s3_endpoint="https://objects.state.example",
                                               s3_addressing_style="virtual"))
    path = EvidenceStore(SubmissionSettings(s3_endpoint="", s3_addressing_style="path"))
    assert virtual._signer.presigned_get_object("evidence", "k").startswith("https://evidence.objects.state.example/k?")
    assert path._signer.presigned_get_object("evidence", "k").startswith(
        "https://s3.us-east-1.amazonaws.com/evidence/k?")


def test_keys_are_both_given_or_both_left_to_a_role() -> None:
    SubmissionSettings(s3_access_key="", s3_secret_key="")
    with pytest.raises(ValidationError, match="both set"):
        SubmissionSettings(s3_access_key="", s3_secret_key="x")


def test_the_store_rule_may_never_abort_an_upload_the_sweep_still_accepts() -> None:
    with pytest.raises(ValidationError, match="longer than orphan_upload_hours"):
        SubmissionSettings(orphan_upload_hours=48, s3_abort_incomplete_upload_days=2)
    assert SubmissionSettings(orphan_upload_hours=48, s3_abort_incomplete_upload_days=None)
    assert SubmissionSettings(orphan_upload_hours=47, s3_abort_incomplete_upload_days=2)
