"""The evidence sweeps: retention, abandoned uploads, stray objects at upload keys, and sealing evidence
verified before sealing existed. They run on a timer (``entrypoints.scheduler``) and on demand
(``POST /maintenance/sweep``); each item is changed under its submission's row lock, so replicas sweeping
at once do each item once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from uuid import uuid4

from microcred.runtime.errors import Invalid
from microcred.submission.domain.model import UPLOAD_PREFIX, EvidenceStatus, UploadFacts, verified_object_key
from microcred.submission.service_layer import sealing
from microcred.submission.service_layer.storage import EvidenceStorage, RetentionPolicy
from microcred.submission.service_layer.unit_of_work import SubmissionUnitOfWork

# Upload keys looked up in the database per query by the stray-upload sweep.
STRAY_BATCH = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepReport:
    purged_items: int = 0
    abandoned_uploads: int = 0
    aborted_unknown_uploads: int = 0
    # Items verified in place before sealing existed: sealed now, or found changed and rejected.
    sealed_items: int = 0
    changed_items: int = 0
    # Objects at upload keys no item needs (a PUT through a still-valid URL after sealing, for one).
    removed_stray_uploads: int = 0


async def purge_expired_evidence(
    uow: Callable[[], SubmissionUnitOfWork], store: EvidenceStorage, policy: RetentionPolicy, now: datetime
) -> int:
    """Delete the bytes of evidence whose submission was decided longer ago than the retention period.

    Rows, attempts, feedback and the award id stay: only the object store is emptied, and each item
    records when. One submission per transaction, under its row lock, so two replicas sweeping at
    once do each item once.
    """
    cutoff = now - policy.evidence_retention
    async with uow() as reading:
        due = await reading.submissions.final_with_stored_evidence(cutoff, policy.batch_size)
    purged = 0
    for submission_id in due:
        async with uow() as purging:
            submission = await purging.submissions.get(submission_id, for_update=True)
            if submission is None:
                continue
            items = submission.retention_due(now, policy.evidence_retention)
            for evidence in items:
                await sealing.remove_stored(store, submission_id, evidence)
                evidence.purge(now)
            await purging.submissions.save(submission)
            await purging.commit()
            purged += len(items)
    return purged


async def abandon_orphan_uploads(
    uow: Callable[[], SubmissionUnitOfWork], store: EvidenceStorage, policy: RetentionPolicy, now: datetime
) -> tuple[int, int]:
    """Remove uploads declared but never completed, then multipart uploads no item knows.

    Returns (items abandoned, unknown uploads aborted). An upload the store holds but no pending item
    names comes from a declaration whose transaction never committed, or from an item removed while
    a client kept uploading; either way nothing will ever complete it.
    """
    cutoff = now - policy.orphan_upload_age
    async with uow() as reading:
        stale = await reading.submissions.pending_uploads_before(cutoff, policy.batch_size)
    abandoned = 0
    for submission_id, evidence_id in stale:
        async with uow() as abandoning:
            submission = await abandoning.submissions.get(submission_id, for_update=True)
            evidence = None if submission is None else submission.find_evidence(evidence_id)
            if submission is None or evidence is None or evidence.status is not EvidenceStatus.PENDING:
                continue
            await sealing.remove_stored(store, submission_id, evidence)
            evidence.abandon(now)
            await abandoning.submissions.save(submission)
            await abandoning.commit()
            abandoned += 1
    old = [u for u in await store.open_uploads(UPLOAD_PREFIX) if u.initiated_at is None or u.initiated_at <= cutoff]
    async with uow() as reading:
        known = await reading.submissions.pending_upload_ids(u.upload_id for u in old)
    aborted = 0
    for upload in old:
        if upload.upload_id not in known:
            await store.abort_multipart(upload.object_key, upload.upload_id)
            aborted += 1
    return abandoned, aborted


async def seal_verified_in_place(
    uow: Callable[[], SubmissionUnitOfWork], store: EvidenceStorage, policy: RetentionPolicy, now: datetime
) -> tuple[int, int]:
    """Seal items verified before sealing existed: copy, hash the copy, and read from it from then on.

    Returns (sealed, found changed). A copy whose sha256 is not the verified one means the bytes were
    replaced after verification (through an upload URL still valid then): the item is rejected and its
    bytes deleted, as a failed verification would have done. Each item is copied and hashed outside
    any transaction, then recorded under its submission's row lock (re-checked there).
    """
    async with uow() as reading:
        due = await reading.submissions.verified_in_place(policy.batch_size)
    sealed = changed = 0
    for submission_id, evidence_id in due:
        async with uow() as reading:
            submission = await reading.submissions.get(submission_id)
        evidence = None if submission is None else submission.find_evidence(evidence_id)
        if evidence is None or not evidence.verified_in_place():
            continue
        sealed_key = verified_object_key(submission_id, evidence_id, uuid4(), evidence.filename)
        recorded = False
        try:
            facts = UploadFacts(size=0, sha256="", etag="", sniffed_content_type=None)  # the bytes are gone
            if await store.copy(evidence.object_key, sealed_key) is not None:
                # Copied without a condition, so the copy's size is not known before this stat.
                copied = await store.stat(sealed_key)
                inspection = await store.inspect(sealed_key, copied.size) if copied is not None else None
                if copied is not None and inspection is not None:
                    facts = UploadFacts(size=copied.size, sha256=inspection.sha256, etag=copied.etag,
                                        sniffed_content_type=None, sealed_key=sealed_key)
            async with uow() as recording:
                submission = await recording.submissions.get(submission_id, for_update=True)
                evidence = None if submission is None else submission.find_evidence(evidence_id)
                if submission is None or evidence is None or not evidence.verified_in_place():
                    continue
                try:
                    evidence.seal(facts)
                except Invalid as refusal:
                    log.warning("evidence changed after verification; rejected", extra={
                        "submission_id": str(submission_id), "evidence_id": str(evidence_id),
                        "details": refusal.details})
                    await sealing.remove_stored(store, submission_id, evidence)
                    evidence.reject(refusal, now)
                    changed += 1
                else:
                    recorded = True
                    sealed += 1
                await recording.submissions.save(submission)
                await recording.commit()
        finally:
            if not recorded:
                await store.remove(sealed_key)
        if recorded:
            sealing.remove_upload(store, evidence)
    return sealed, changed


async def remove_stray_uploads(
    uow: Callable[[], SubmissionUnitOfWork], store: EvidenceStorage, policy: RetentionPolicy, now: datetime
) -> int:
    """Delete objects at upload keys that no item needs.

    Upload URLs are signed only for keys under the upload prefix, and each stays valid for minutes
    after its item is sealed, rejected or withdrawn: a PUT in that time lands there and nothing else
    would ever remove it. A key no item knows is left alone until the orphan age has passed. Item
    states only move away from needing their upload key, so deciding without a lock is safe.
    """
    cutoff = now - policy.orphan_upload_age
    listed = list(await store.list_objects(UPLOAD_PREFIX))
    removed = 0
    for start in range(0, len(listed), STRAY_BATCH):
        batch = listed[start : start + STRAY_BATCH]
        async with uow() as reading:
            needed = await reading.submissions.upload_keys_needed(o.object_key for o in batch)
        doomed = [
            listed.object_key for listed in batch
            if not (needed.get(listed.object_key) or (
                listed.object_key not in needed and listed.last_modified is not None and listed.last_modified > cutoff
            ))
        ]
        await store.remove_many(doomed)
        removed += len(doomed)
    return removed


async def sweep(
    uow: Callable[[], SubmissionUnitOfWork], store: EvidenceStorage, policy: RetentionPolicy,
    now: datetime | None = None,
) -> SweepReport:
    moment = now or datetime.now(UTC)
    purged = await purge_expired_evidence(uow, store, policy, moment)
    sealed, changed = await seal_verified_in_place(uow, store, policy, moment)
    abandoned, aborted = await abandon_orphan_uploads(uow, store, policy, moment)
    stray = await remove_stray_uploads(uow, store, policy, moment)
    report = SweepReport(purged_items=purged, abandoned_uploads=abandoned, aborted_unknown_uploads=aborted,
                         sealed_items=sealed, changed_items=changed, removed_stray_uploads=stray)
    log.info("evidence sweep done", extra=asdict(report))
    return report
