"""Retention on the real stack: once a decision is final, evidence bytes go; the record stays."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

import pytest
from minio import Minio
from minio.error import S3Error

from microcred.devstack.client import PlatformClient
from microcred.devstack.platform import EVIDENCE_BUCKET, Platform

pytestmark = pytest.mark.stack


def stored(platform: Platform, object_key: str) -> bool:
    endpoints = platform.endpoints
    store = Minio(urlparse(endpoints.s3_endpoint).netloc, endpoints.s3_access_key, endpoints.s3_secret_key,
                  secure=False)
    try:
        store.stat_object(EVIDENCE_BUCKET, object_key)
    except S3Error as error:
        if error.code in ("NoSuchKey", "NoSuchObject"):
            return False
        raise
    return True


def test_after_the_final_decision_the_sweep_deletes_evidence_bytes_but_keeps_the_audit_trail(
    platform: Platform, client: PlatformClient, world: Any
) -> None:
    credential_id = world.publish("Retention")
    reviewer, teacher = world.reviewer(credential_id), world.teacher()
    submission_id = world.submit_evidence(teacher, credential_id)
    review = client.assigned_review(reviewer, submission_id, attempt=1)
    before = client.submission(teacher, submission_id)
    keys = [e["object_key"] for e in before["evidence"]]
    assert keys and all(stored(platform, key) for key in keys)

    swept_early = client.call("POST", "submission", "/maintenance/sweep", world.operator)
    assert all(stored(platform, key) for key in keys), "evidence under review must survive a sweep"
    assert isinstance(swept_early, dict)

    client.score(reviewer, review["review_id"], {"overview": "proficient", "adjustment": "proficient"})
    awarded = client.wait_status(teacher, submission_id, "awarded")
    time.sleep(1.5)  # the test platform's retention is about a second
    counts = client.call("POST", "submission", "/maintenance/sweep", world.operator)
    assert counts["purged_items"] >= len(keys)

    assert not any(stored(platform, key) for key in keys)
    after = client.submission(teacher, submission_id)
    assert {e["status"] for e in after["evidence"]} == {"purged"}
    assert after["award_id"] == awarded["award_id"] and after["status"] == "awarded"
    assert [a["attempt"] for a in after["attempts"]] == [1]
    assert client.call("GET", "award", f"/awards/{awarded['award_id']}")["credential"]
