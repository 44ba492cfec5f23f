"""The credential editor's form and the operator's forms, without a browser: what the author typed comes back as
typed, the catalog's body is built from it, and each located refusal lands on the field it concerns."""

from __future__ import annotations

from microcred.portal.domain import authoring, operations

FORM = [
    ("name", "Checking for understanding"), ("competency", "Checks what students understood."),
    ("key_method", "Exit tickets."), ("method_components", "Plan\n\n  Ask  \nAdjust"),
    ("research", "Wiliam (2011) Embedded formative assessment https://example.org/wiliam\nBlack and Wiliam 1998"),
    ("req-0-title", "Lesson video"), ("req-0-kind", "video"), ("req-0-required", "yes"), ("req-0-min_count", "1"),
    ("req-0-max_duration_seconds", "900"), ("req-0-prompts", "What did you notice?"),
    ("criterion-0-name", "Elicits evidence"), ("criterion-0-level-0-name", "Not yet"),
    ("criterion-0-level-0-points", "0"), ("criterion-0-level-1-name", "Proficient"),
    ("criterion-0-level-1-points", "2"), ("criterion-0-level-1-descriptor", "Every student answers."),
    ("passing_kind", "all_criteria_at_least"), ("passing_level", "proficient"), ("subjects", "Math, Science"),
]


def test_the_form_becomes_the_catalogs_definition_with_keys_made_from_names() -> None:
    body = authoring.definition_body(authoring.editor_from_form(FORM))
    assert body["method_components"] == ["Plan", "Ask", "Adjust"]
    assert body["research"] == [{"title": "Wiliam (2011) Embedded formative assessment",
                                 "url": "https://example.org/wiliam"}, {"title": "Black and Wiliam 1998"}]
    criterion = body["rubric"]["criteria"][0]
    assert criterion["key"] == "elicits-evidence"
    assert [(lv["key"], lv["points"]) for lv in criterion["levels"]] == [("not-yet", 0), ("proficient", 2)]
    assert body["rubric"]["passing_rule"] == {"kind": "all_criteria_at_least", "level": "proficient"}
    item = body["submission_criteria"]["items"][0]
    assert item == {"key": "lesson-video", "kind": "video", "title": "Lesson video", "prompts": ["What did you notice?"],
                    "required": True, "min_count": 1, "accepted_content_types": [], "max_duration_seconds": 900}
    assert body["subjects"] == ["Math", "Science"]


def test_a_number_that_is_not_one_goes_to_the_catalog_as_typed_so_it_says_what_is_wrong() -> None:
    form = [*FORM, ("criterion-0-level-1-points", "two")]
    body = authoring.definition_body(authoring.editor_from_form(form))
    assert body["rubric"]["criteria"][0]["levels"][1]["points"] == "two"


def test_adding_a_criterion_and_a_level_keeps_everything_typed_and_focuses_the_new_field() -> None:
    editor = authoring.editor_from_form(FORM)
    assert authoring.apply_action(editor, "add-level-0")
    assert editor.focus == "criterion-0-level-2-name"
    assert authoring.apply_action(editor, "add-criterion")
    assert editor.focus == "criterion-1-name"
    assert [lv.name for lv in editor.criteria[0].levels] == ["Not yet", "Proficient", ""]
    assert len(editor.criteria[1].levels) == 2
    assert editor.value("competency") == "Checks what students understood."
    assert authoring.apply_action(editor, "remove-level-0-0")
    assert [lv.name for lv in editor.criteria[0].levels] == ["Proficient", ""]
    assert not authoring.apply_action(editor, "remove-level-9-0")
    assert not authoring.apply_action(editor, "drop-everything")


def test_a_stored_version_round_trips_through_the_editor_unchanged() -> None:
    body = authoring.definition_body(authoring.editor_from_form(FORM)) | {
        "credit_hints": [{"unit": "CEU", "amount": "1.5"}], "estimated_hours": 10.0}
    again = authoring.definition_body(authoring.editor_from_version(body | {"issuer_id": "x"}))
    assert again == body | {"estimated_hours": "10"}


def test_each_located_refusal_is_shown_beside_its_field() -> None:
    where = authoring.field_of
    assert where(["body", "competency"]) == "competency"
    assert where(["body", "rubric", "criteria", 0, "levels", 1, "points"]) == "criterion-0-level-1-points"
    assert where(["body", "rubric", "criteria", 1]) == "criterion-1-name"
    assert where(["body", "rubric", "criteria", 0, "levels"]) == "criterion-0-levels"
    assert where(["body", "rubric"]) == "passing_level"
    assert where(["body", "rubric", "passing_rule", "points"]) == "passing_points"
    assert where(["body", "submission_criteria", "items", 0, "max_count"]) == "req-0-max_count"
    assert where(["body", "research", 2, "url"]) == "research"
    assert where(["body", "alignments", 0, "target_name"]) is None
    assert where(["body"]) is None
    assert authoring.label_of("criterion-0-level-1-points") == "Criterion 1, level 2: points"


def test_the_approval_sends_exactly_the_checks_the_catalog_takes() -> None:
    checks = operations.approval_checks({"check-research_base": "yes", "check-rubric": "yes"})
    assert checks == {"research_base": True, "evidence_requirements": False, "rubric": True}
    assert operations.failing_checks({"failing": ["evidence_requirements"]}) == ["evidence_requirements"]
    assert operations.failing_checks([{"loc": ["body"]}]) == []


def test_the_reviewer_form_keeps_certification_dates_and_revokes_unticked_ones() -> None:
    current = {"certifications": [{"credential_id": "a", "certified_at": "2026-01-01T00:00:00Z", "status": "active"},
                                  {"credential_id": "b", "certified_at": "2026-02-01T00:00:00Z", "status": "active"}]}
    body = operations.reviewer_body({"certified": "listed", "cert-a": "yes", "add_certification": "c",
                                     "max_open": "4", "availability": "paused", "active": "yes"}, current)
    assert body["certifications"] == [
        {"credential_id": "a", "status": "active", "certified_at": "2026-01-01T00:00:00Z"},
        {"credential_id": "b", "status": "revoked", "certified_at": "2026-02-01T00:00:00Z"},
        {"credential_id": "c", "status": "active"}]
    assert (body["max_open"], body["availability"], body["active"], body["senior"]) == (4, "paused", True, False)
    assert operations.reviewer_body({"certified": "all", "max_open": "x"}, current)["credential_ids"] is None
    assert operations.reviewer_body({"certified": "all", "max_open": "x"}, current)["max_open"] == "x"


def test_the_waiting_queue_pages_whichever_way_the_review_service_answers() -> None:
    whole = [{"review_id": str(i)} for i in range(120)]
    sliced = operations.queue_page(whole, 50, 50)
    assert [q["review_id"] for q in sliced.items][:1] == ["50"] and sliced.total == 120 and sliced.has_next
    paged = operations.queue_page({"items": whole[100:], "total": 120}, 100, 50)
    assert len(paged.items) == 20 and not paged.has_next
    assert not operations.queue_page(whole[:3], 0, 50).has_next


def test_standing_buttons_follow_the_awards_standing() -> None:
    assert operations.allowed_standing_actions("active") == ["suspend", "revoke"]
    assert operations.allowed_standing_actions("suspended") == ["reinstate", "revoke"]
    assert operations.allowed_standing_actions("revoked") == []


def test_an_empty_competency_refused_by_the_catalog_reads_as_characters_beside_its_field() -> None:
    from microcred.portal.domain.refusals import Refusal, problems_of

    details = [{"loc": ["body", "competency"], "type": "too_short",
                "msg": "Value should have at least 1 item after validation, not 0"},
               {"loc": ["body", "rubric", "criteria", 1, "levels", 1, "points"], "type": "int_parsing",
                "msg": "Input should be a valid integer"}]
    editor = authoring.editor_from_form(FORM)
    problems = problems_of(Refusal("catalog", 422, "invalid_request", "invalid", details),
                           authoring.field_map(details), editor.flat())
    assert problems.fields == {"competency": ["Use at least 1 character."],
                               "criterion-1-level-1-points": ["Enter a whole number."]}
