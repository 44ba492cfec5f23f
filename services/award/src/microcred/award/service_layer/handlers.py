"""Award use cases. Each runs in one unit of work: inbox claim, state change, outbox events, one commit.

Dedup keys: ``award.record_credential_version`` and ``award.award_passed_submission`` claim the event id,
so a redelivered event is a no-op; the unique submission id makes a second *different* passed score for
the same submission a no-op too.
"""

from __future__ import annotations

import logging
from uuid import uuid4

from microcred.award.domain.model import Award, AwardStatus, CredentialVersion
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.events import CredentialAwarded, CredentialPublished, SubmissionScored

log = logging.getLogger(__name__)


def credential_awarded(award: Award) -> CredentialAwarded:
    assert award.status is AwardStatus.ISSUED and award.credential is not None
    assert award.issuer_id is not None and award.credential_name is not None
    assert award.correlation_id is not None
    return CredentialAwarded(
        correlation_id=award.correlation_id,
        causation_id=award.scored_event_id,
        states=award.states,
        award_id=award.award_id,
        submission_id=award.submission_id,
        credential_id=award.credential_id,
        credential_version=award.credential_version,
        credential_name=award.credential_name,
        issuer_id=award.issuer_id,
        teacher_id=award.teacher_id,
        issued_at=award.issued_at,
        valid_until=award.valid_until,
        credential=award.credential,
    )


async def record_credential_version(event: CredentialPublished, uow: AwardUnitOfWork, identity_salt: str) -> None:
    """Keep the published version, then issue every award that was waiting for it."""
    async with uow:
        if not await uow.claim("award.record_credential_version", event.event_id):
            return
        credential = CredentialVersion.from_event(event)
        await uow.credentials.lock(credential.credential_id, credential.version)
        await uow.credentials.add(credential)
        for award in await uow.awards.pending_for(credential.credential_id, credential.version):
            award.issue(credential, identity_salt)
            await uow.awards.save(award)
            uow.publish(credential_awarded(award))
            log.info("issued pending award %s", award.award_id)
        await uow.commit()


async def award_passed_submission(event: SubmissionScored, uow: AwardUnitOfWork, identity_salt: str) -> None:
    """A passed score becomes the submission's award: issued now, or pending until its version arrives."""
    async with uow:
        if not await uow.claim("award.award_passed_submission", event.event_id):
            return
        if event.decision != "passed":
            await uow.commit()
            return
        await uow.credentials.lock(event.credential_id, event.credential_version)
        award = Award(
            award_id=uuid4(),
            submission_id=event.submission_id,
            teacher_id=event.teacher_id,
            credential_id=event.credential_id,
            credential_version=event.credential_version,
            results=event.results,
            # The decision's time, not the processing time: the document then depends only on the
            # events, and an award that waited for its credential version keeps the date it was earned.
            issued_at=event.scored_at,
            states=event.states,
            scored_event_id=event.event_id,
            correlation_id=event.correlation_id,
        )
        credential = await uow.credentials.get(event.credential_id, event.credential_version)
        if credential is not None:
            award.issue(credential, identity_salt)
        if not await uow.awards.add_once(award):
            log.info("submission %s already has an award; score %s changes nothing",
                     event.submission_id, event.review_id)
            await uow.commit()
            return
        if award.status is AwardStatus.ISSUED:
            uow.publish(credential_awarded(award))
        else:
            log.info("award %s waits for credential %s v%s", award.award_id,
                     event.credential_id, event.credential_version)
        await uow.commit()
