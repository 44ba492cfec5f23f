"""The evidence bucket's rule for abandoned multipart uploads, set by the submission service through the
S3 API so that it holds on any S3 (AWS, MinIO, Ceph RGW, SeaweedFS), checked on the real SeaweedFS.

SeaweedFS 4.48 stores and returns an AbortIncompleteMultipartUpload rule (PutBucketLifecycleConfiguration
and GetBucketLifecycleConfiguration). Whether it then aborts an upload after the days pass cannot be seen in
a test (a day is the rule's smallest unit); what is checked is what the service can own: the rule is there
with the right days, an operator's other rules survive, and a second replica finds nothing to change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from microcred.devstack.infra import EmbeddedStack, Endpoints, Ports
from microcred.submission.adapters.evidence_store import ABANDONED_UPLOADS_RULE, EvidenceStore, LifecycleRefused
from microcred.submission.entrypoints.scheduler import keep_abandoned_upload_rule
from microcred.submission.settings import SubmissionSettings

pytestmark = pytest.mark.stack

BUCKET = "evidence"


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    with EmbeddedStack(tmp_path_factory.mktemp("lifecycle"), Ports.free(), buckets=[BUCKET]) as stack:
        yield stack.start()


@pytest.fixture
def client(endpoints: Endpoints) -> Iterator[Minio]:
    client = Minio(endpoints.s3_endpoint.split("://", 1)[1], access_key=endpoints.s3_access_key,
                   secret_key=endpoints.s3_secret_key, secure=False, region="us-east-1")
    client.delete_bucket_lifecycle(BUCKET)
    yield client
    client.delete_bucket_lifecycle(BUCKET)


@pytest.fixture
def store(endpoints: Endpoints) -> EvidenceStore:
    return EvidenceStore(SubmissionSettings(s3_endpoint=endpoints.s3_endpoint, s3_access_key=endpoints.s3_access_key,
                                            s3_secret_key=endpoints.s3_secret_key, s3_bucket=BUCKET))


def abort_days(client: Minio) -> dict[str | None, int | None]:
    config = client.get_bucket_lifecycle(BUCKET)
    assert config is not None
    return {rule.rule_id: rule.abort_incomplete_multipart_upload.days_after_initiation
            if rule.abort_incomplete_multipart_upload else None for rule in config.rules}


def test_the_service_sets_the_rule_once_and_a_second_replica_finds_it_in_place(
    client: Minio, store: EvidenceStore
) -> None:
    assert client.get_bucket_lifecycle(BUCKET) is None
    assert asyncio.run(store.ensure_abandoned_upload_rule(2)) is True
    assert abort_days(client) == {ABANDONED_UPLOADS_RULE: 2}
    assert asyncio.run(store.ensure_abandoned_upload_rule(2)) is False


def test_an_operators_own_rules_survive_and_a_changed_setting_replaces_only_ours(
    client: Minio, store: EvidenceStore
) -> None:
    theirs = Rule(ENABLED, rule_filter=Filter(prefix="exports/"), rule_id="operator-exports",
                  expiration=Expiration(days=30))
    client.set_bucket_lifecycle(BUCKET, LifecycleConfig([theirs]))
    asyncio.run(store.ensure_abandoned_upload_rule(2))
    assert asyncio.run(store.ensure_abandoned_upload_rule(5)) is True
    assert abort_days(client) == {"operator-exports": None, ABANDONED_UPLOADS_RULE: 5}
    config = client.get_bucket_lifecycle(BUCKET)
    assert config is not None
    kept = next(rule for rule in config.rules if rule.rule_id == "operator-exports")
    assert kept.expiration is not None and kept.expiration.days == 30
    assert kept.rule_filter is not None and kept.rule_filter.prefix == "exports/"


def test_the_start_up_job_waits_out_an_unreachable_store_then_sets_the_rule(
    client: Minio, store: EvidenceStore, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def away_once(days: int) -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionRefusedError("the store is not up yet")
        return await store.ensure_abandoned_upload_rule(days)

    with caplog.at_level(logging.INFO, logger="microcred.submission.entrypoints.scheduler"):
        asyncio.run(asyncio.wait_for(keep_abandoned_upload_rule(away_once, 3, retry_seconds=0.01), 30))
    assert calls == 2 and abort_days(client) == {ABANDONED_UPLOADS_RULE: 3}
    assert "retrying" in caplog.text


def test_a_refusing_store_leaves_the_service_running_with_a_warning_naming_what_to_grant(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # SeaweedFS cannot be given a user without lifecycle rights from here (weed shell's s3.configure hung), so
    # the refusal the adapter raises for AccessDenied is handed to the start-up job directly.
    async def refused(days: int) -> bool:
        raise LifecycleRefused("AccessDenied")

    with caplog.at_level(logging.WARNING, logger="microcred.submission.entrypoints.scheduler"):
        asyncio.run(asyncio.wait_for(keep_abandoned_upload_rule(refused, 2), 5))
    assert "AccessDenied" in caplog.text and "s3:PutLifecycleConfiguration" in caplog.text
