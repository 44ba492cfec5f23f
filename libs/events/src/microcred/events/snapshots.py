"""JSON Schema snapshots of published event versions, and the compatibility rule they enforce.

A published version may only grow by optional fields. Readers are tolerant (unknown fields are
dropped), so an added optional field is invisible to them; anything else (a removed or retyped field, a
new required field, a changed constraint) breaks somebody, and needs a new ``event_version`` instead.

``python -m microcred.events.snapshots`` writes snapshots for versions not yet snapshotted and
refreshes compatible growth; it refuses to overwrite a snapshot with an incompatible schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from microcred.events.base import IntegrationEvent
from microcred.events.registry import ALL_EVENTS

SNAPSHOT_DIR = Path(__file__).parent / "schemas"
_IGNORED_KEYWORDS = {"title", "description", "default", "examples"}


def snapshot_path(cls: type[IntegrationEvent]) -> Path:
    event_type = cls.model_fields["event_type"].default
    version = cls.model_fields["event_version"].default
    return SNAPSHOT_DIR / f"{event_type}.v{version}.json"


def current_schema(cls: type[IntegrationEvent]) -> dict[str, Any]:
    return cls.model_json_schema(mode="serialization")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root.get("$defs", {})[name]
    return schema


def incompatibilities(
    old: dict[str, Any], new: dict[str, Any], path: str = "$",
    old_root: dict[str, Any] | None = None, new_root: dict[str, Any] | None = None,
) -> list[str]:
    """Why ``new`` cannot replace ``old`` under the same published version (empty if it can)."""
    old_root = old_root or old
    new_root = new_root or new
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    problems: list[str] = []
    if "properties" in old or "properties" in new:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name, old_prop in old_props.items():
            if name not in new_props:
                problems.append(f"{path}.{name}: removed")
            else:
                problems += incompatibilities(
                    old_prop, new_props[name], f"{path}.{name}", old_root, new_root
                )
        added_required = set(new.get("required", ())) - set(old.get("required", ()))
        problems += [f"{path}.{name}: became required" for name in sorted(added_required)]
        return problems
    for keyword in ("items", "additionalProperties"):
        if isinstance(old.get(keyword), dict) and isinstance(new.get(keyword), dict):
            problems += incompatibilities(
                old[keyword], new[keyword], f"{path}[]", old_root, new_root
            )
    for keyword in ("anyOf", "oneOf", "allOf"):
        if keyword in old or keyword in new:
            old_opts, new_opts = old.get(keyword, []), new.get(keyword, [])
            if len(old_opts) != len(new_opts):
                problems.append(f"{path}: {keyword} alternatives changed")
            else:
                for i, (o, n) in enumerate(zip(old_opts, new_opts, strict=True)):
                    problems += incompatibilities(o, n, f"{path}<{i}>", old_root, new_root)
    nested = {"items", "additionalProperties", "anyOf", "oneOf", "allOf", "properties", "required"}
    old_leaf = {k: v for k, v in old.items() if k not in _IGNORED_KEYWORDS | nested}
    new_leaf = {k: v for k, v in new.items() if k not in _IGNORED_KEYWORDS | nested}
    if old_leaf != new_leaf:
        problems.append(f"{path}: changed from {old_leaf} to {new_leaf}")
    return problems


def main(argv: list[str] | None = None) -> int:
    failed = False
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    for cls in ALL_EVENTS:
        path, schema = snapshot_path(cls), current_schema(cls)
        if path.exists():
            problems = incompatibilities(json.loads(path.read_text()), schema)
            if problems:
                failed = True
                print(f"REFUSED {path.name}: incompatible with the published version:", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                continue
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        print(f"wrote {path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
