"""The uploads' view of a submission: captions listed under their video and never counted as a requirement's file,
and the part numbers a resuming script may ask for."""

from __future__ import annotations

from typing import Any

from microcred.portal.domain import application, uploads

CREDENTIAL: dict[str, Any] = {"submission_criteria": {"items": [
    {"key": "classroom-video", "kind": "video", "title": "Classroom video", "required": True, "min_count": 1,
     "max_count": 1, "prompts": []},
]}}


def item(evidence_id: str, status: str = "uploaded", **fields: Any) -> dict[str, Any]:
    return {"evidence_id": evidence_id, "requirement_key": "classroom-video", "status": status,
            "filename": f"{evidence_id}.bin", "content_type": "video/webm", "captions_for": None} | fields


def test_captions_ride_with_their_video_and_are_no_file_of_the_requirement() -> None:
    evidence = [item("v1"), item("c1", content_type="text/vtt", captions_for="v1"),
                item("c2", "rejected", content_type="text/vtt", captions_for="v1"),
                item("c3", "pending", content_type="text/vtt", captions_for="v1")]
    (section,) = application.sections(CREDENTIAL, {"evidence": evidence, "responses": []})
    assert [e["evidence_id"] for e in section.verified] == ["v1"] and not section.rejected and not section.pending
    assert section.full and application.checklist([section]) == []


def test_a_resuming_script_asks_for_part_numbers_as_a_list() -> None:
    assert uploads.part_numbers("2, 5,6") == [2, 5, 6]
    for bad in ("", "0", "1,x", "10001", "-1", ","):
        assert uploads.part_numbers(bad) is None, bad
