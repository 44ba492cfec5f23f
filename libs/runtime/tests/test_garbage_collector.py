"""A service freezes the objects of its built app out of later collections and collects its young garbage less
often (runtime.cli.tune_garbage_collector); the settings give Python's behaviour back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from microcred.runtime.cli import tune_garbage_collector
from microcred.runtime.settings import ServiceSettings


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def settings(**values: object) -> ServiceSettings:
    return ServiceSettings(**values)  # type: ignore[arg-type]


def test_the_built_app_is_frozen_and_young_garbage_waits_for_the_threshold(restored_collector: None) -> None:
    built = [{"route": n} for n in range(1000)]  # what the app holds for the life of the process
    tune_garbage_collector(settings())
    assert gc.get_freeze_count() >= len(built)
    assert gc.get_threshold()[0] == 20_000


def test_the_settings_give_pythons_own_behaviour_back(restored_collector: None) -> None:
    tune_garbage_collector(settings(gc_freeze_at_start=False, gc_young_threshold=700))
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold()[0] == 700
