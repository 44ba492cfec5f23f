"""The credential versions read model, and how progress shows it beside the state's credit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

from microcred.events import CreditPosted
from microcred.licensure.domain.model import EntryKind, IssuerCreditHint, LedgerEntry, describe_entry
from microcred.licensure.entrypoints.api import progress_view
from microcred.licensure.service_layer.handlers import license_progress, post_credits, record_credential_version
from microcred.runtime.auth import Principal, Role

TEACHER = Principal(subject="teacher-42", roles=frozenset({Role.TEACHER}), states=("TN",))
TODAY = date(2025, 6, 1)


async def test_a_published_version_is_recorded_once_with_its_issuer_and_hints(uow: Any, build: Any) -> None:
    published = build.published()
    await record_credential_version(published, uow)

    assert uow.credentials.upserts == 1
    (credential,) = uow.credentials.rows.values()
    assert (credential.credential_id, credential.version) == (published.credential_id, 1)
    assert (credential.name, credential.issuer_id, credential.issuer_name) == (
        "Checking for Understanding (catalog)", published.issuer.issuer_id, "Teaching Lab"
    )
    assert credential.credit_hints == (IssuerCreditHint(unit="hours", amount=Decimal(15), note="suggested PD hours"),)
    assert ("licensure.record_credential_version", published.event_id) in uow.claimed


async def test_the_same_published_event_delivered_twice_changes_nothing(uow: Any, build: Any) -> None:
    published = build.published()
    await record_credential_version(published, uow)
    await record_credential_version(published.model_copy(update={"name": "Renamed in a redelivery"}), uow)

    assert uow.credentials.upserts == 1
    (credential,) = uow.credentials.rows.values()
    assert credential.name == "Checking for Understanding (catalog)"


async def test_each_version_of_a_credential_is_kept_apart(uow: Any, build: Any) -> None:
    first = build.published()
    second = build.published(version=2, credential_id=first.credential_id, credit_hints=[])
    await record_credential_version(first, uow)
    await record_credential_version(second, uow)
    assert uow.credentials.rows[(first.credential_id, 1)].credit_hints != ()
    assert uow.credentials.rows[(first.credential_id, 2)].credit_hints == ()


async def test_progress_names_the_credential_and_shows_the_issuers_hints_once_the_version_is_known(
    uow: Any, build: Any
) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    published = build.published()
    await record_credential_version(published, uow)
    await post_credits(build.awarded(credential=published), uow)

    (entry,) = progress_view(await license_progress(license.license_id, TEACHER, uow, today=TODAY))["entries"]
    assert entry["credential"] == {
        "credential_id": str(published.credential_id),
        "version": 1,
        "name": "Checking for Understanding (catalog)",
        "issuer_name": "Teaching Lab",
    }
    assert entry["issuer_credit_hints"] == [{"unit": "hours", "amount": "15", "note": "suggested PD hours"}]


async def test_progress_shows_the_awards_name_and_null_issuer_fields_before_the_version_arrives(
    uow: Any, build: Any
) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    awarded = build.awarded()
    await post_credits(awarded, uow)

    (entry,) = progress_view(await license_progress(license.license_id, TEACHER, uow, today=TODAY))["entries"]
    assert entry["credential"] == {
        "credential_id": str(awarded.credential_id),
        "version": 1,
        "name": "Checking for Understanding",
        "issuer_name": None,
    }
    assert entry["issuer_credit_hints"] is None
    assert entry["amount"] == "6"


async def test_a_version_arriving_after_the_credit_describes_it_from_then_on(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    published = build.published()
    await post_credits(build.awarded(credential=published), uow)
    await record_credential_version(published, uow)

    (entry,) = (await license_progress(license.license_id, TEACHER, uow, today=TODAY)).entries
    assert entry.credential is not None and entry.credential.issuer_name == "Teaching Lab"
    assert entry.issuer_credit_hints == (IssuerCreditHint(unit="hours", amount=Decimal(15), note="suggested PD hours"),)


async def test_hints_of_another_version_of_the_same_credential_are_not_shown(uow: Any, build: Any) -> None:
    license = build.license()
    await uow.licenses.add_once(license)
    second = build.published(version=2)
    await record_credential_version(second, uow)
    await post_credits(build.awarded(credential=build.published(credential_id=second.credential_id)), uow)

    (entry,) = (await license_progress(license.license_id, TEACHER, uow, today=TODAY)).entries
    assert entry.credential is not None and entry.credential.version == 1 and entry.credential.issuer_name is None
    assert entry.issuer_credit_hints is None


async def test_issuer_hints_never_change_the_credit_the_state_rule_set_gives(uow: Any, build: Any) -> None:
    license = build.license(state="TN")
    await uow.licenses.add_once(license)
    generous = build.published(credit_hints=[{"unit": "points", "amount": "99"}])
    await record_credential_version(generous, uow)
    await post_credits(build.awarded(credential=generous), uow)

    (posted,) = [e for e in uow.published if isinstance(e, CreditPosted)]
    assert (posted.amount, posted.unit, posted.earned_in_cycle) == (Decimal(6), "points", Decimal(6))
    progress = await license_progress(license.license_id, TEACHER, uow, today=TODAY)
    (entry,) = progress.entries
    assert (entry.entry.amount, progress.earned) == (Decimal(6), Decimal(6))
    assert entry.issuer_credit_hints == (IssuerCreditHint(unit="points", amount=Decimal(99)),)


def test_an_entry_whose_award_is_unknown_is_shown_without_credential_or_hints(build: Any) -> None:
    license, award = build.license(), build.award()
    entry = LedgerEntry(entry_id=uuid4(), license_id=license.license_id, award_id=award.award_id,
                        kind=EntryKind.CREDIT, amount=build.tn.amount_per_credential, unit="points",
                        rule_set_id="TN-2024", rule_set_version=1, earned_on=award.earned_on)
    described = describe_entry(entry, None, None)
    assert (described.credential, described.issuer_credit_hints) == (None, None)
