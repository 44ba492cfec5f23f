"""The operator releases the generated objects are written for: the ones whose CRD schemas deploy/k8s/schemas pins
(its sources.py), so what the comments name is what ``make test`` checks the objects against."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "sources.py"


@cache
def _sources() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crd_sources", SCHEMAS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    return module


def pinned(title: str) -> str:
    """The pinned release of an operator project, by its title in schemas/sources.py (``"CloudNativePG"``)."""
    releases: dict[str, str] = {p.title: p.release for p in _sources().PROJECTS}
    releases |= {g.title: g.release for g in _sources().UNPINNED}
    return releases[title]
