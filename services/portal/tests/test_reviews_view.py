"""The reviewer pages' view logic, without a browser: the queue's address, due words, the rubric form, the review
service's refusals beside their criteria, and evidence grouped per requirement with captions on their video."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from microcred.portal.domain import reviews
from microcred.portal.domain.refusals import Refusal

RUBRIC: dict[str, Any] = {
    "criteria": [
        {"key": "overview", "name": "Overview", "levels": [
            {"key": "not-yet", "name": "Not Yet", "points": 0}, {"key": "proficient", "name": "Proficient", "points": 1},
            {"key": "exemplary", "name": "Exemplary", "points": 2}]},
        {"key": "adjustment", "name": "Adjusting", "levels": [
            {"key": "not-yet", "name": "Not Yet", "points": 0}, {"key": "proficient", "name": "Proficient", "points": 1}]},
    ],
    "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient", "criteria": ["overview"]},
}
VIDEO, VTT, NOTES = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", \
    "33333333-3333-3333-3333-333333333333"


def test_the_queue_address_keeps_only_what_the_page_offers() -> None:
    query = reviews.queue_query({"sort": "-assigned", "due": "overdue", "role": "adjudicator", "page": "3",
                                 "credential": VIDEO})
    assert query.api_params() == {"sort": "-assigned", "limit": 25, "offset": 50, "credential_id": VIDEO,
                                  "overdue": "true", "role": "adjudicator"}
    assert query.link(page=4) == f"/reviews?sort=-assigned&credential={VIDEO}&due=overdue&role=adjudicator&page=4"
    odd = reviews.queue_query({"sort": "teacher_name", "due": "x", "role": "boss", "page": "-2", "credential": "1"})
    assert odd == reviews.QueueQuery()
    assert odd.link() == "/reviews"
    assert reviews.queue_query({"page": "99999999999"}).page == 100_000
    assert reviews.queue_query({"due": "on_time"}).api_params()["overdue"] == "false"


def test_due_dates_are_words_and_overdue_is_said_not_only_coloured() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert reviews.due((now + timedelta(days=3)).isoformat(), now) == reviews.Due("Due in 3 days", False)
    assert reviews.due((now + timedelta(hours=5)).isoformat(), now) == reviews.Due("Due in 5 hours", False)
    assert reviews.due((now - timedelta(hours=1)).isoformat(), now) == reviews.Due("Overdue by 1 hour", True)
    assert reviews.due(None, now).overdue is False


def test_the_pager_counts_from_the_total() -> None:
    assert reviews.pager(10_000, 3) == reviews.Pager(3, 400, 10_000, 51, 75)
    assert reviews.pager(0, 1) == reviews.Pager(1, 1, 0, 0, 0)
    assert reviews.pager(30, 2).last_item == 30


def test_levels_below_passing_are_marked_only_on_gated_criteria() -> None:
    built = reviews.criteria(RUBRIC)
    assert [lv.below_passing for lv in built[0].levels] == [True, False, False]
    assert [lv.below_passing for lv in built[1].levels] == [False, False]  # not gated by the passing rule
    assert "1 of the criteria at “Proficient”" in reviews.passing_words(RUBRIC)


def test_the_form_becomes_the_score_request_and_a_refusal_lands_beside_its_criterion() -> None:
    built = reviews.criteria(RUBRIC)
    results, typed = reviews.results_from_form({"level-overview": "not-yet", "feedback-overview": "",
                                                "feedback-adjustment": "kept"}, built)
    assert results == [{"criterion_key": "overview", "level_key": "not-yet", "feedback": ""}]
    assert typed == {"level-overview": "not-yet", "feedback-overview": "", "level-adjustment": "",
                     "feedback-adjustment": "kept"}
    kept = reviews.criteria(RUBRIC, typed=typed)
    assert (kept[0].chosen, kept[1].feedback) == ("not-yet", "kept")

    feedback = reviews.score_problems(Refusal("review", 422, "feedback_required", "feedback is required",
                                              {"criteria": ["overview"]}), kept)
    assert list(feedback.fields) == ["feedback-overview"] and not feedback.general
    missing = reviews.score_problems(Refusal("review", 422, "incomplete_scores", "missing",
                                             {"missing": ["adjustment"], "repeated": []}), kept)
    assert missing.fields == {"level-adjustment": ["Choose a level for this criterion."]}
    other = reviews.score_problems(Refusal("review", 409, "already_scored", "review is already scored"), kept)
    assert not other.fields and other.general


def test_evidence_is_grouped_per_requirement_with_captions_as_a_track_of_their_video() -> None:
    credential = {"submission_criteria": {"items": [
        {"key": "video", "kind": "video", "title": "Classroom video"},
        {"key": "reflection", "kind": "reflection", "title": "Reflection", "prompts": ["What changed?", "Next?"]}]}}
    submission = {"evidence": [
        {"evidence_id": VIDEO, "requirement_key": "video", "filename": "lesson.mp4", "content_type": "video/mp4",
         "size_bytes": 9000, "duration_seconds": 61.0},
        {"evidence_id": VTT, "requirement_key": "video", "filename": "lesson.vtt", "content_type": "text/vtt",
         "size_bytes": 300, "captions_for": VIDEO},
        {"evidence_id": NOTES, "requirement_key": "reflection", "filename": "notes.txt",
         "content_type": "text/plain", "size_bytes": 40}],
        "responses": [{"requirement_key": "reflection", "prompt_index": 0, "answer": "Regrouped."}]}
    video, reflection = reviews.evidence_sections(credential, submission)
    assert [(f.filename, f.shown_as, f.captions) for f in video.files] == [("lesson.mp4", "video", [VTT])]
    assert [(f.filename, f.shown_as) for f in reflection.files] == [("notes.txt", "text")]
    assert reflection.answers == [("What changed?", "Regrouped."), ("Next?", "")]
    assert reviews.caption_ids([video, reflection]) == {VTT}


def test_evidence_without_the_captions_keys_or_naming_no_video_here_is_just_a_file() -> None:
    credential = {"submission_criteria": {"items": [{"key": "video", "kind": "video", "title": "Video"}]}}
    submission = {"evidence": [
        {"evidence_id": VIDEO, "requirement_key": "video", "filename": "a.mp4", "content_type": "video/mp4"},
        {"evidence_id": VTT, "requirement_key": "video", "filename": "b.vtt", "content_type": "text/vtt",
         "captions_for": "44444444-4444-4444-4444-444444444444"},
        {"evidence_id": NOTES, "requirement_key": "video", "filename": "c.vtt", "content_type": "text/plain",
         "captions_for": VIDEO}]}
    (section,) = reviews.evidence_sections(credential, submission)
    assert [f.filename for f in section.files] == ["a.mp4", "b.vtt", "c.vtt"]
    assert section.files[0].captions == []
    assert reviews.evidence_sections({}, {}) == []
