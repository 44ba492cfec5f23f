"""The shipped recognition programs and the sample catalog agree: every stack or pathway a program names by id is
one the sample catalog's import produces (ids are derived from issuer and stack or pathway keys, see
services/catalog/CATALOG_FORMAT.md). A program file pointing at nothing would load, evaluate and never grant
anything, so only this check catches it. It reads files only: no platform is started."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from microcred.catalog.domain.model import pathway_id_for, stack_id_for
from microcred.devstack.seed import load_catalog
from microcred.licensure.adapters.program_files import shipped_programs

STACK_FIELDS = ("stack_id", "stacks")
PATHWAY_FIELDS = ("pathway_id", "pathways")


def named(value: Any, fields: tuple[str, ...]) -> set[UUID]:
    """Every id under one of ``fields`` anywhere in a program's rule, so a new rule kind is covered too."""
    found: set[UUID] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in fields:
                found |= {UUID(str(v)) for v in (inner if isinstance(inner, list | tuple) else [inner])}
            else:
                found |= named(inner, fields)
    elif isinstance(value, list | tuple):
        for inner in value:
            found |= named(inner, fields)
    return found


def test_every_stack_and_pathway_a_shipped_program_names_is_produced_by_the_sample_catalog() -> None:
    catalog = load_catalog()
    stacks = {stack_id_for(s["issuer"], s["key"]) for s in catalog["stacks"]}
    pathways = {pathway_id_for(p["issuer"], p["key"]) for p in catalog["pathways"]}
    programs = shipped_programs()
    missing = {
        f"{p.program_id} v{p.version}": sorted(str(i) for i in (named(rule, STACK_FIELDS) - stacks)
                                               | (named(rule, PATHWAY_FIELDS) - pathways))
        for p in programs
        for rule in [p.rule.model_dump(mode="json")]
    }
    assert {k: v for k, v in missing.items() if v} == {}
    # The check above must have something to check: the Mentor Teacher stack and the teacher-leader pathway.
    referenced = set().union(*(named(p.rule.model_dump(mode="json"), STACK_FIELDS + PATHWAY_FIELDS)
                               for p in programs))
    assert stack_id_for("bloomboard", "la-elementary-mentor-teacher") in referenced
    assert pathway_id_for("microcred-samples", "teacher-leadership") in referenced


def test_the_mentor_teacher_stack_holds_six_credentials_sponsored_by_the_louisiana_department() -> None:
    catalog = load_catalog()
    (stack,) = [s for s in catalog["stacks"] if s["key"] == "la-elementary-mentor-teacher"]
    six = [c for c in catalog["credentials"] if c["issuer"] == stack["issuer"] and c["key"] in stack["credentials"]]
    assert len(stack["credentials"]) == len(six) == 6
    assert {c["sponsor"] for c in six} == {"Louisiana Department of Education"}
