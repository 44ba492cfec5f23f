"""The application page's view of a submission: sections, the missing checklist, criteria words."""

from __future__ import annotations

from typing import Any

from microcred.portal.domain import application

CREDENTIAL: dict[str, Any] = {"submission_criteria": {"items": [
    {"key": "lesson-plan", "kind": "document", "title": "Lesson plan", "required": True, "min_count": 1,
     "accepted_content_types": ["text/plain"], "max_size_bytes": 1048576, "prompts": ["Where?"]},
    {"key": "classroom-video", "kind": "video", "title": "Classroom video", "required": True, "min_count": 2,
     "min_duration_seconds": 300, "max_duration_seconds": 600, "prompts": ["What?", "Why?"]},
    {"key": "extra", "kind": "student_work", "title": "Extra", "required": False, "min_count": 1, "prompts": ["Any?"]},
]}}


def evidence(key: str, status: str) -> dict[str, Any]:
    return {"requirement_key": key, "status": status, "filename": f"{key}.bin"}


def test_the_checklist_names_what_is_missing_in_the_credentials_order() -> None:
    submission = {"evidence": [evidence("lesson-plan", "uploaded"), evidence("classroom-video", "uploaded"),
                               evidence("classroom-video", "rejected"), evidence("classroom-video", "pending")],
                  "responses": [{"requirement_key": "classroom-video", "prompt_index": 0, "answer": "Done"},
                                {"requirement_key": "classroom-video", "prompt_index": 1, "answer": "   "}]}
    built = application.sections(CREDENTIAL, submission)
    assert [len(s.verified) for s in built] == [1, 1, 0]
    assert application.checklist(built) == [
        ("answer-lesson-plan-0", "Lesson plan: answer prompt 1."),
        ("upload-classroom-video", "Classroom video: upload 1 more verified file."),
        ("answer-classroom-video-1", "Classroom video: answer prompt 2."),
    ]  # the optional requirement asks nothing


def test_the_services_incomplete_details_read_as_the_checklist() -> None:
    built = application.sections(CREDENTIAL, {"evidence": [], "responses": []})
    details = [{"requirement_key": "classroom-video", "min_count": 2, "uploaded": 0},
               {"requirement_key": "lesson-plan", "prompt_index": 0, "prompt": "Where?"},
               {"requirement_key": None, "uploaded": 0, "min_count": 1}]
    assert application.missing_from_refusal(details, built) == [
        ("upload-classroom-video", "Classroom video: upload 2 more verified files."),
        ("answer-lesson-plan-0", "Lesson plan: answer prompt 1."),
        ("evidence", "Evidence: upload 1 more verified file."),
    ]


def test_criteria_in_words() -> None:
    plan, video, _ = CREDENTIAL["submission_criteria"]["items"]
    assert application.criteria_words(plan) == ["At least one file.", "Accepted types: text/plain.",
                                                "Each file up to 1.0 MB."]
    assert application.criteria_words(video) == ["At least 2 files.", "Any video format.",
                                                 "Between 5 minutes and 10 minutes long."]
    assert application.criteria_words({"kind": "video", "min_count": 1, "max_count": 3,
                                       "max_duration_seconds": 90}) == [
        "1 to 3 files.", "Any video format.", "At most 1.5 minutes long."]


def test_answer_fields_round_trip_with_dashes_in_keys() -> None:
    keys = ["classroom-video", "plan"]
    assert application.parse_answer_field(application.answer_field("classroom-video", 12), keys) == (
        "classroom-video", 12)
    assert application.parse_answer_field("answer-other-0", keys) is None
    assert application.parse_answer_field("answer-plan-x", keys) is None
    assert application.parse_answer_field("csrf_token", keys) is None
