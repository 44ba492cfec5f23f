"""The whole flow through five service processes over the real broker, database and object store.

Each test drives the platform as its users would (issuer admin, operator, teacher, reviewer) through
the HTTP APIs and presigned uploads, then checks the end state over HTTP and the events on the topics
with a plain Kafka consumer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from microcred.devstack.client import PlatformClient, Record, read_events, wait_for
from microcred.devstack.platform import Platform

pytestmark = pytest.mark.stack

PROFICIENT = {"overview": "proficient", "adjustment": "proficient"}
NOT_YET = {"overview": "not-yet", "adjustment": "not-yet"}


def events(platform: Platform, topic: str, match: Callable[[dict[str, Any]], bool], count: int) -> list[Record]:
    found = read_events(platform.endpoints.kafka_bootstrap, topic, match, count)
    assert len(found) == count, f"expected {count} matching events on {topic}, found {len(found)}"
    return found


def test_submission_that_passes_first_time_is_awarded_and_credited(
    platform: Platform, client: PlatformClient, world: Any
) -> None:
    credential_id = world.publish("Modifying Instruction Through Formative Assessment")
    reviewer, teacher = world.reviewer(credential_id), world.teacher()
    submission_id = world.submit_evidence(teacher, credential_id)
    in_review = client.wait_status(teacher, submission_id, "under_review")
    review = client.assigned_review(reviewer, submission_id, attempt=1)
    expected = datetime.fromisoformat(in_review["attempts"][0]["expected_decision_at"])
    assert expected == datetime.fromisoformat(review["due_at"]), "the teacher sees the expected decision date"
    blind = client.call("GET", "review", f"/reviews/{review['review_id']}", reviewer)
    assert "teacher_id" not in blind, "review must be blind"
    client.score(reviewer, review["review_id"], PROFICIENT)

    awarded = client.wait_status(teacher, submission_id, "awarded")
    award = client.call("GET", "award", f"/awards/{awarded['award_id']}")  # public: no token
    document = award["credential"]
    assert document["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert "OpenBadgeCredential" in document["type"]
    assert teacher.subject not in json.dumps(document), "the teacher is identified by a salted hash only"

    licenses = client.call("GET", "licensure", "/licenses", teacher)
    progress = wait_for(
        lambda: (p := client.call("GET", "licensure", f"/licenses/{licenses[0]['license_id']}/progress", teacher))
        ["entries"] and p, "credit to be posted")
    assert float(progress["earned"]) == 6 and float(progress["required"]) == 60

    mine = lambda e: e.get("submission_id") == submission_id  # noqa: E731
    (submitted,) = events(platform, "submission.submitted", mine, 1)
    assert submitted.key == submission_id.encode()
    assert submitted.value["evidence"][0]["sha256"] and "content" not in submitted.value["evidence"][0]
    assert submitted.headers["ce_id"] == submitted.value["event_id"] and submitted.headers["ce_specversion"] == "1.0"
    assert submitted.headers["ce_type"] == "submission.submitted.v1"
    assert submitted.headers["ce_source"] == "/microcred/submission"
    assert submitted.value["states"] == ["TN"]
    events(platform, "review.assigned", mine, 1)
    (scored,) = events(platform, "review.scored", mine, 1)
    assert scored.value["decision"] == "passed" and len(scored.value["results"]) == 2
    (awarded_event,) = events(platform, "award.awarded", mine, 1)
    (credit,) = events(platform, "licensure.credit-posted",
                       lambda e: e.get("award_id") == awarded_event.value["award_id"], 1)
    assert credit.value["state"] == "TN" and float(credit.value["amount"]) == 6
    # The reviewer's decision starts the chain that ends in the state's credit: one correlation id and
    # one trace across three services and two Kafka hops (scored -> awarded -> credit-posted).
    assert credit.value["correlation_id"] == awarded_event.value["correlation_id"] == scored.value["correlation_id"]
    assert credit.value["causation_id"] == awarded_event.value["event_id"]
    assert credit.headers["traceparent"].split("-")[1] == scored.headers["traceparent"].split("-")[1]


def test_submission_that_falls_short_is_revised_resubmitted_and_then_awarded(
    platform: Platform, client: PlatformClient, world: Any
) -> None:
    credential_id = world.publish("Checking for Understanding")
    reviewer, teacher = world.reviewer(credential_id), world.teacher()
    submission_id = world.submit_evidence(teacher, credential_id)
    first = client.assigned_review(reviewer, submission_id, attempt=1)
    client.score(reviewer, first["review_id"], NOT_YET, feedback="Show how the hinge question changed the lesson.")

    revise = client.wait_status(teacher, submission_id, "revise_requested")
    assert "Show how the hinge question changed the lesson." in json.dumps(revise), "the teacher sees the feedback"
    assert client.attempt("POST", "submission", f"/submissions/{submission_id}/submit", reviewer).status_code in (403, 404)

    client.upload(teacher, submission_id, "reflection", b"Revised: I regrouped students after the hinge question.",
                  "text/plain", "reflection-v2.txt")
    # Fresh eyes: whoever scored attempt 1 does not score attempt 2, so a second reviewer takes it.
    fresh = world.reviewer(credential_id)
    note = "I regrouped students after the hinge question; the new reflection says how."
    client.call("POST", "submission", f"/submissions/{submission_id}/submit", teacher,
                json={"note_to_reviewer": note})
    second = client.assigned_review(fresh, submission_id, attempt=2)
    assert second["review_id"] != first["review_id"], "a resubmission opens a new review"
    assert second["teacher_note"] == note and first["teacher_note"] is None, "the note reaches its attempt's reviewer"
    assert not [r for r in client.call("GET", "review", "/reviews/assigned", reviewer) if r["submission_id"] == submission_id]
    client.score(fresh, second["review_id"], PROFICIENT)
    awarded = client.wait_status(teacher, submission_id, "awarded")
    assert awarded["attempt"] == 2
    # The history of every attempt survives the award: what was sent and what the reviewer said.
    first_attempt, second_attempt = sorted(awarded["attempts"], key=lambda a: a["attempt"])
    assert [a["attempt"] for a in (first_attempt, second_attempt)] == [1, 2]
    assert {f["criterion_key"] for f in first_attempt["feedback"]} == {"overview", "adjustment"}
    assert all(f["feedback"] == "Show how the hinge question changed the lesson." for f in first_attempt["feedback"])
    assert second_attempt["feedback"] == [] and second_attempt["submitted_at"] > first_attempt["submitted_at"]
    assert (first_attempt["note_to_reviewer"], second_attempt["note_to_reviewer"]) == (None, note)
    assert {e["filename"] for e in awarded["evidence"]} >= {"lesson.mp4", "reflection.txt", "reflection-v2.txt"}

    mine = lambda e: e.get("submission_id") == submission_id  # noqa: E731
    assert sorted(r.value["attempt"] for r in events(platform, "submission.submitted", mine, 2)) == [1, 2]
    (revision,) = events(platform, "review.revise-requested", mine, 1)
    assert {f["criterion_key"] for f in revision.value["feedback"]} == {"overview", "adjustment"}
    assert sorted(r.value["decision"] for r in events(platform, "review.scored", mine, 2)) == ["passed", "revise"]
    (awarded_event,) = events(platform, "award.awarded", mine, 1)
    events(platform, "licensure.credit-posted", lambda e: e.get("award_id") == awarded_event.value["award_id"], 1)
