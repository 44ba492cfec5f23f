"""The recognition programs that ship with the service, as data: one JSON file per program in ``programs/``.

A file holds every version of one program, like a rule set file: the owner (state, district), the agency
and a note once, then each version's terms. Versions are immutable once published (ledger entries cite
them). A bad file is refused with its name and the field at fault, so a person editing one can fix it.
"""

from __future__ import annotations

import json
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from microcred.licensure.adapters.data_files import json_files, shipped
from microcred.licensure.domain.recognition import Program


class ProgramFile(BaseModel):
    """What a file says once for all its versions; each version is checked as a whole :class:`Program`."""

    model_config = ConfigDict(extra="forbid")

    program_id: str
    state: str
    district: str | None = None
    agency: str = Field(min_length=1)
    confirm_with_agency: bool
    note: str = Field(min_length=1)
    versions: list[dict[str, Any]] = Field(min_length=1)


def _where(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".") or "(file)"


def _problems(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[str]:
    return [f"{_where(prefix + tuple(e['loc']))}: {e['msg']}" for e in error.errors()]


def parse_program_file(text: str, name: str) -> list[Program]:
    """Every version in one file; ValueError naming the file and each field at fault."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"program file {name} is not JSON: {error}") from None
    try:
        header = ProgramFile.model_validate(raw)
    except ValidationError as error:
        raise ValueError(f"program file {name} is invalid: " + "; ".join(_problems(error))) from None
    common = header.model_dump(exclude={"versions", "agency"})
    programs, problems = [], []
    for index, terms in enumerate(header.versions):
        restated = sorted(set(terms) & (set(common) | {"agency"}))
        if restated:
            problems += [f"versions[{index}].{key}: said once for the whole file, not per version"
                         for key in restated]
            continue
        try:
            programs.append(Program.model_validate({**common, **terms}))
        except ValidationError as error:
            problems += _problems(error, ("versions", index))
    numbers = [p.version for p in programs]
    if len(numbers) != len(set(numbers)):
        problems.append("versions: a version number appears twice")
    if problems:
        raise ValueError(f"program file {name} is invalid: " + "; ".join(problems))
    return programs


def shipped_programs() -> list[Program]:
    return programs_from(shipped("programs"))


def programs_from(folder: Traversable) -> list[Program]:
    """The programs of a folder of program files (the shipped ones, or a deployment's own beside them)."""
    return [program for name, text in json_files(folder) for program in parse_program_file(text, name)]


def load_programs(extra: Path | None = None) -> list[Program]:
    """The shipped programs and those of ``extra``; a version named twice is refused (entries cite it)."""
    programs = shipped_programs() + ([] if extra is None else programs_from(extra))
    seen: set[tuple[str, int]] = set()
    for program in programs:
        if (program.program_id, program.version) in seen:
            raise ValueError(f"program {program.program_id} version {program.version} is defined twice")
        seen.add((program.program_id, program.version))
    return programs
