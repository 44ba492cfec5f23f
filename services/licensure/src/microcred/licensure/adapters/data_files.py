"""The JSON data files licensure reads: its shipped rule sets and programs, and a deployment's own programs."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable


def shipped(folder: str) -> Traversable:
    """A folder of data files inside the licensure package (in the wheel and the image, beside the code)."""
    return resources.files("microcred.licensure").joinpath(folder)


def json_files(folder: Traversable) -> Iterator[tuple[str, str]]:
    """(name, text) of each ``.json`` file in ``folder``, by name: the same order on every machine, so a file
    that is refused is always the same one."""
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith(".json"):
            yield entry.name, entry.read_text("utf-8")
