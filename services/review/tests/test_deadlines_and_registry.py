"""Business-day deadlines and the reviewer registry's certification records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from pydantic import ValidationError

from microcred.review.domain.model import (
    BusinessDays,
    Certification,
    add_business_days,
    certifications_for_ids,
    certified_credentials,
    due_after,
)
from microcred.review.service_layer.handlers import UpsertReviewer

MONDAY = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
C1 = UUID("00000000-0000-0000-0000-0000000000c1")
C2 = UUID("00000000-0000-0000-0000-0000000000c2")
C3 = UUID("00000000-0000-0000-0000-0000000000c3")


def test_fourteen_business_days_from_a_monday_is_the_friday_of_the_third_week() -> None:
    assert add_business_days(MONDAY, 14) == datetime(2026, 3, 20, 9, 30, tzinfo=UTC)


def test_one_business_day_after_a_friday_is_the_monday_after() -> None:
    friday = MONDAY + timedelta(days=4)
    assert add_business_days(friday, 1) == MONDAY + timedelta(days=7)


def test_a_deadline_counted_from_a_weekend_starts_on_monday() -> None:
    saturday, sunday = MONDAY - timedelta(days=2), MONDAY - timedelta(days=1)
    assert add_business_days(saturday, 1) == MONDAY
    assert add_business_days(sunday, 5) == MONDAY + timedelta(days=4)


def test_a_business_day_deadline_never_lands_on_a_weekend() -> None:
    for offset in range(7):
        start = MONDAY + timedelta(days=offset)
        for days in range(1, 30):
            assert add_business_days(start, days).weekday() < 5


def test_a_plain_duration_is_still_accepted_as_a_due_rule() -> None:
    assert due_after(MONDAY, timedelta(days=14)) == MONDAY + timedelta(days=14)
    assert due_after(MONDAY, BusinessDays(5)) == MONDAY + timedelta(days=7)


def test_a_listed_credential_keeps_its_original_certification_date() -> None:
    earlier = MONDAY - timedelta(days=300)
    records = certifications_for_ids([C1, C2], [Certification(C1, earlier)], MONDAY)
    assert records == (Certification(C1, earlier), Certification(C2, MONDAY))


def test_a_credential_dropped_from_the_list_is_revoked_not_forgotten() -> None:
    earlier = MONDAY - timedelta(days=300)
    records = certifications_for_ids([C2], [Certification(C1, earlier), Certification(C2, earlier)], MONDAY)
    assert records == (Certification(C1, earlier, "revoked"), Certification(C2, earlier))
    assert certified_credentials(records) == {C2}


def test_relisting_a_revoked_credential_certifies_it_afresh() -> None:
    earlier = MONDAY - timedelta(days=300)
    records = certifications_for_ids([C1], [Certification(C1, earlier, "revoked")], MONDAY)
    assert records == (Certification(C1, MONDAY),)


def test_only_active_certifications_make_a_reviewer_certified() -> None:
    records = [Certification(C1, MONDAY), Certification(C2, MONDAY, "revoked"), Certification(C3, MONDAY)]
    assert certified_credentials(records) == {C1, C3}


def test_the_original_registry_body_is_still_accepted() -> None:
    body = UpsertReviewer.model_validate({"credential_ids": [str(C1)], "max_open": 3, "active": True})
    assert body.credential_ids == [C1] and body.certifications is None


def test_a_registry_body_may_carry_dated_certifications_and_the_new_reviewer_fields() -> None:
    body = UpsertReviewer.model_validate({
        "certifications": [{"credential_id": str(C1), "certified_at": "2025-09-01T00:00:00Z", "status": "revoked"}],
        "district": "Metro", "school": "Hillside", "senior": True, "availability": "on_leave",
    })
    assert body.certifications is not None and body.certifications[0].status == "revoked"
    assert (body.senior, body.availability.value) == (True, "on_leave")


def test_a_registry_body_with_both_credential_ids_and_certifications_is_refused() -> None:
    with pytest.raises(ValidationError):
        UpsertReviewer.model_validate({"credential_ids": [str(C1)], "certifications": [{"credential_id": str(C1)}]})


def test_a_credential_certified_twice_in_one_body_is_refused() -> None:
    with pytest.raises(ValidationError):
        UpsertReviewer.model_validate({"certifications": [{"credential_id": str(C1)}, {"credential_id": str(C1)}]})


def test_an_unknown_availability_or_a_naive_certification_date_is_refused() -> None:
    with pytest.raises(ValidationError):
        UpsertReviewer.model_validate({"credential_ids": None, "availability": "sabbatical"})
    with pytest.raises(ValidationError):
        UpsertReviewer.model_validate({"certifications": [{"credential_id": str(C1), "certified_at": "2025-09-01T00:00"}]})
