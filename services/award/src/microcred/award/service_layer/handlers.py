"""Award use cases. Each runs in one unit of work: inbox claim, state change, outbox events, one commit.

Dedup keys: every consumer claims ``award.<handler>`` + the event id, so a redelivered event is a
no-op; the unique submission id makes a second *different* passed score for the same submission a
no-op too, and a partial unique index lets a teacher hold each stack's or pathway's credential once.

A micro-credential award is issued when three facts have arrived, in any order: the passed score,
the credential version and the submitted attempt. The score takes the credential-version lock, then
the submission lock; the version takes its lock and the pending rows; the attempt takes the submission
lock and the pending rows. Always in that order, so no two of them deadlock, and whichever commits
last sees the others' rows and issues.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

from microcred.award.domain.model import (
    Award,
    AwardStatus,
    Collection,
    CredentialVersion,
    SubmittedAttempt,
    award_salt,
    build_collection_badge,
)
from microcred.award.service_layer.signing import IssuingAuthority
from microcred.award.service_layer.unit_of_work import AwardUnitOfWork
from microcred.events import (
    CollectionAwarded,
    CredentialAwarded,
    CredentialPublished,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    IssuerProfile,
    PathwayChanged,
    StackChanged,
    SubmissionScored,
    SubmissionSubmitted,
)
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Forbidden, NotFound

log = logging.getLogger(__name__)


def credential_awarded(award: Award, authority: IssuingAuthority) -> CredentialAwarded:
    assert award.status is AwardStatus.ISSUED and award.credential is not None
    assert award.issuer_id is not None and award.credential_name is not None
    assert award.correlation_id is not None and award.submission_id is not None
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
        credential_url=authority.urls.credential_json(award.award_id),
    )


async def _issue_if_complete(uow: AwardUnitOfWork, award: Award, authority: IssuingAuthority) -> bool:
    """Sign and issue a pending award whose credential version and attempt are both known."""
    credential = await uow.credentials.get(award.credential_id, award.credential_version)
    attempt = None if award.attempt is None else await uow.attempts.get(award.submission_id or UUID(int=0),
                                                                        award.attempt)
    if credential is None or attempt is None:
        log.info("award %s waits for %s", award.award_id,
                 "its credential version" if credential is None else "its submitted attempt")
        return False
    issuer_id = credential.issuer.issuer_id
    entries = await authority.allocate_status(uow, award, issuer_id)
    unsigned = award.unsigned_document(credential, attempt, authority.identity_secret, authority.urls, entries)
    signed = await authority.sign(uow, unsigned, issuer_id)
    award.issue(signed, issuer_id, credential.name, credential.valid_until(award.issued_at))
    await uow.awards.save(award)
    uow.publish(credential_awarded(award, authority))
    await _award_collections_for(uow, award, attempt, authority)
    return True


async def record_credential_version(
    event: CredentialPublished, uow: AwardUnitOfWork, authority: IssuingAuthority
) -> None:
    """Keep the published version, then issue every award that was waiting for it."""
    async with uow:
        if not await uow.claim("award.record_credential_version", event.event_id):
            return
        credential = CredentialVersion.from_event(event)
        await uow.credentials.lock(credential.credential_id, credential.version)
        await uow.credentials.add(credential)
        for award in await uow.awards.pending_for(credential.credential_id, credential.version):
            await _issue_if_complete(uow, award, authority)
        await uow.commit()


async def record_submitted_attempt(
    event: SubmissionSubmitted, uow: AwardUnitOfWork, authority: IssuingAuthority
) -> None:
    """Keep who submitted and what they sent (described, never the files), then issue what waited for it."""
    async with uow:
        if not await uow.claim("award.record_submitted_attempt", event.event_id):
            return
        await uow.awards.lock_submission(event.submission_id)
        await uow.attempts.add(SubmittedAttempt.from_event(event))
        # No credential-version lock here: taking it after the submission lock would invert the score
        # handler's order (version, then submission) and deadlock. The pending rows are locked instead,
        # which serialises this with the version's arrival just as well: whichever commits second sees
        # the other's row and issues.
        for award in await uow.awards.pending_for_submission(event.submission_id):
            if award.attempt == event.attempt:
                await _issue_if_complete(uow, award, authority)
        await uow.commit()


async def award_passed_submission(event: SubmissionScored, uow: AwardUnitOfWork, authority: IssuingAuthority) -> None:
    """A passed score becomes the submission's award: issued now, or pending until what it needs arrives."""
    async with uow:
        if not await uow.claim("award.award_passed_submission", event.event_id):
            return
        if event.decision != "passed":
            await uow.commit()
            return
        await uow.credentials.lock(event.credential_id, event.credential_version)
        await uow.awards.lock_submission(event.submission_id)
        award = Award(
            award_id=uuid4(),
            submission_id=event.submission_id,
            teacher_id=event.teacher_id,
            credential_id=event.credential_id,
            credential_version=event.credential_version,
            results=event.results,
            # The decision's time, not the processing time: the document then depends only on the
            # events, and an award that waited keeps the date it was earned.
            issued_at=event.scored_at,
            states=event.states,
            scored_event_id=event.event_id,
            correlation_id=event.correlation_id,
            attempt=event.attempt,
        )
        if not await uow.awards.add_once(award):
            log.info("submission %s already has an award; score %s changes nothing",
                     event.submission_id, event.review_id)
            await uow.commit()
            return
        await _issue_if_complete(uow, award, authority)
        await uow.commit()


# -- stacks and pathways ---------------------------------------------------------------------------


async def _issuer_profile(uow: AwardUnitOfWork, issuer_id: UUID) -> IssuerProfile:
    profile = await uow.credentials.issuer_profile(issuer_id)
    # A collection's issuer has published at least one credential in practice; if this service has not
    # seen one, the credential still names the issuer by its verifiable id.
    return profile or IssuerProfile(issuer_id=issuer_id, name=f"Issuer {issuer_id}")


async def _issue_collection(
    uow: AwardUnitOfWork,
    collection: Collection,
    teacher_id: str,
    held: dict[UUID, Award],
    identity: SubmittedAttempt | None,
    authority: IssuingAuthority,
    correlation_id: UUID,
    causation_id: UUID | None,
    at: datetime,
) -> None:
    components = [held[credential_id] for credential_id in collection.credential_ids]
    award = Award(
        award_id=uuid4(),
        submission_id=None,
        teacher_id=teacher_id,
        credential_id=collection.collection_id,
        credential_version=collection.revision,
        results=(),
        issued_at=at,
        states=tuple(sorted({state for component in components for state in component.states})),
        correlation_id=correlation_id,
        scored_event_id=causation_id,
        kind=collection.kind,
        component_award_ids=tuple(component.award_id for component in components),
    )
    if not await uow.awards.add_collection_once(award):
        return
    issuer = await _issuer_profile(uow, collection.issuer_id)
    entries = await authority.allocate_status(uow, award, collection.issuer_id)
    unsigned = build_collection_badge(
        award_id=award.award_id, issued_at=at, teacher=identity, teacher_id=teacher_id,
        identity_salt=award_salt(authority.identity_secret, award.award_id), collection=collection, issuer=issuer,
        components=[(c.award_id, c.credential_name or str(c.credential_id)) for c in components],
        urls=authority.urls, credential_status=entries,
    )
    signed = await authority.sign(uow, unsigned, collection.issuer_id)
    award.issue(signed, collection.issuer_id, collection.name, None)
    await uow.awards.save(award)
    uow.publish(CollectionAwarded(
        correlation_id=correlation_id,
        causation_id=causation_id,
        states=award.states,
        award_id=award.award_id,
        kind=collection.kind,
        collection_id=collection.collection_id,
        collection_revision=collection.revision,
        name=collection.name,
        issuer_id=collection.issuer_id,
        teacher_id=teacher_id,
        issued_at=at,
        component_award_ids=award.component_award_ids,
        credential=signed,
        credential_url=authority.urls.credential_json(award.award_id),
    ))
    log.info("issued %s credential %s for %s to %s", collection.kind, award.award_id, collection.collection_id,
             teacher_id)


async def _award_collections_for(
    uow: AwardUnitOfWork, award: Award, attempt: SubmittedAttempt, authority: IssuingAuthority
) -> None:
    """After a micro-credential is issued: every stack or pathway the teacher now holds in full."""
    collections = await uow.collections.containing(award.credential_id)
    if not collections:
        return
    held = {a.credential_id: a for a in await uow.awards.held_by(award.teacher_id)}
    held[award.credential_id] = award
    for collection in collections:
        if collection.completed_by(set(held)) and not await uow.awards.has_collection(
            award.teacher_id, collection.kind, collection.collection_id
        ):
            assert award.correlation_id is not None
            await _issue_collection(uow, collection, award.teacher_id, held, attempt, authority,
                                    award.correlation_id, award.scored_event_id, authority.clock())


async def _record_collection(
    collection: Collection, event: StackChanged | PathwayChanged, uow: AwardUnitOfWork, authority: IssuingAuthority
) -> None:
    """Keep the newest revision, then issue it to every teacher who already holds all of it."""
    async with uow:
        if not await uow.claim(f"award.record_{collection.kind}", event.event_id):
            return
        if await uow.collections.keep_newest(collection) and collection.active and collection.credential_ids:
            for teacher_id in await uow.awards.teachers_holding_all(collection.credential_ids):
                if await uow.awards.has_collection(teacher_id, collection.kind, collection.collection_id):
                    continue
                held = {a.credential_id: a for a in await uow.awards.held_by(teacher_id)}
                latest = held[collection.credential_ids[-1]]
                identity = None
                if latest.submission_id is not None and latest.attempt is not None:
                    identity = await uow.attempts.get(latest.submission_id, latest.attempt)
                await _issue_collection(uow, collection, teacher_id, held, identity, authority,
                                        event.correlation_id, event.event_id, authority.clock())
        await uow.commit()


async def record_stack(event: StackChanged, uow: AwardUnitOfWork, authority: IssuingAuthority) -> None:
    await _record_collection(Collection(
        kind="stack", collection_id=event.stack_id, revision=event.revision, issuer_id=event.issuer_id,
        name=event.name, description=event.description, credential_ids=event.credential_ids, active=event.active,
    ), event, uow, authority)


async def record_pathway(event: PathwayChanged, uow: AwardUnitOfWork, authority: IssuingAuthority) -> None:
    await _record_collection(Collection(
        kind="pathway", collection_id=event.pathway_id, revision=event.revision, issuer_id=event.issuer_id,
        name=event.name, description=event.description,
        credential_ids=tuple(step.credential_id for step in event.steps), active=event.active,
    ), event, uow, authority)


# -- standing ----------------------------------------------------------------------------------------

StandingAction = Literal["revoke", "suspend", "reinstate"]


def _may_manage(principal: Principal, issuer_id: UUID | None) -> bool:
    return principal.has(Role.OPERATOR) or (
        principal.has(Role.ISSUER_ADMIN) and issuer_id is not None and principal.organization == str(issuer_id)
    )


async def change_standing(
    award_id: UUID, action: StandingAction, reason: str, principal: Principal, uow: AwardUnitOfWork,
    authority: IssuingAuthority,
) -> Award:
    """Revoke, suspend or reinstate: the award, its status-list bit and the event commit together."""
    async with uow:
        award = await uow.awards.get_for_update(award_id)
        if award is None or award.status is not AwardStatus.ISSUED:
            raise NotFound(f"award {award_id} does not exist", code="award_not_found")
        if not _may_manage(principal, award.issuer_id):
            raise Forbidden("only an operator or an admin of the issuing organization may change an award's standing",
                            code="not_issuer_admin")
        now = authority.clock()
        getattr(award, action)(reason, now, principal.subject)
        await authority.publish_standing(uow, award)
        await uow.awards.save(award)
        event_class = {"revoke": CredentialRevoked, "suspend": CredentialSuspended,
                       "reinstate": CredentialReinstated}[action]
        assert award.issuer_id is not None and award.standing_reason is not None
        uow.publish(event_class(
            correlation_id=current_correlation_id(),
            causation_id=None,
            states=award.states,
            award_id=award.award_id,
            kind=award.kind,
            achievement_id=award.credential_id,
            issuer_id=award.issuer_id,
            teacher_id=award.teacher_id,
            reason=award.standing_reason,
            changed_at=now,
            changed_by=principal.subject,
        ))
        await uow.commit()
    return award


async def rotate_key(issuer_id: UUID, principal: Principal, uow: AwardUnitOfWork, authority: IssuingAuthority) -> str:
    if not _may_manage(principal, issuer_id):
        raise Forbidden("only an operator or an admin of the issuing organization may rotate its key",
                        code="not_issuer_admin")
    if authority.key_scope == "operator" and not principal.has(Role.OPERATOR):
        raise Forbidden("one key signs for every issuer here; only an operator may rotate it", code="operator_key")
    async with uow:
        key = await authority.rotate(uow, issuer_id)
        await uow.commit()
    return authority.method_id(issuer_id, key.key_id)
