"""Domain metrics: counted on what a transaction committed, gauges set for every status."""

from __future__ import annotations

from uuid import uuid4

import pytest
from prometheus_client import CollectorRegistry

from microcred.events import EvidenceRef, SubmissionSubmitted
from microcred.runtime.testing import CommitSession
from microcred.submission.adapters.metrics import SubmissionMetrics
from microcred.submission.adapters.orm import messaging
from microcred.submission.domain.model import SubmissionStatus
from microcred.submission.service_layer import handlers
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork


def submitted() -> SubmissionSubmitted:
    return SubmissionSubmitted(
        correlation_id=uuid4(), states=("TN",), submission_id=uuid4(), attempt=1, credential_id=uuid4(),
        credential_version=1, teacher_id="teacher-42",
        evidence=(EvidenceRef(evidence_id=uuid4(), requirement_key="video", object_key="evidence/a/lesson.mp4",
                              filename="lesson.mp4", content_type="video/mp4", size_bytes=1000, sha256="a" * 64),),
    )


def unit_of_work(registry: CollectorRegistry, session: CommitSession) -> SubmissionUnitOfWork:
    return SubmissionUnitOfWork(lambda: session, messaging, "submission",  # type: ignore[arg-type,return-value]
                                metrics=SubmissionMetrics(registry))


def submitted_total(registry: CollectorRegistry) -> float:
    return registry.get_sample_value("microcred_submissions_submitted_total") or 0.0


async def test_a_committed_submission_counts_once() -> None:
    registry = CollectorRegistry()
    async with unit_of_work(registry, CommitSession()) as uow:
        uow.publish(submitted())
        await uow.commit()
    assert submitted_total(registry) == 1


async def test_a_transaction_left_without_commit_counts_nothing() -> None:
    registry = CollectorRegistry()
    with pytest.raises(RuntimeError):
        async with unit_of_work(registry, CommitSession()) as uow:
            uow.publish(submitted())
            raise RuntimeError("the evidence changed")
    assert submitted_total(registry) == 0


async def test_a_commit_the_database_refuses_counts_nothing() -> None:
    registry = CollectorRegistry()
    with pytest.raises(ConnectionError):
        async with unit_of_work(registry, CommitSession(refuse_commit=True)) as uow:
            uow.publish(submitted())
            await uow.commit()
    assert submitted_total(registry) == 0


class CountingSubmissions:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    async def count_by_status(self) -> dict[str, int]:
        return self.counts


async def test_the_refresh_sets_every_status_and_zero_for_those_without_rows() -> None:
    registry = CollectorRegistry()
    uow = unit_of_work(registry, CommitSession())
    uow.bind_repositories = lambda session: setattr(  # type: ignore[method-assign]
        uow, "submissions", CountingSubmissions({"submitted": 3, "awarded": 2}))
    await handlers.refresh_gauges(uow)
    got = {status.value: registry.get_sample_value("microcred_submissions", {"status": status.value})
           for status in SubmissionStatus}
    assert got == {status.value: 0.0 for status in SubmissionStatus} | {"submitted": 3.0, "awarded": 2.0}
