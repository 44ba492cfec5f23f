"""The components deploy/k8s/k8sgen writes (``make k8s``) are committed exactly as it writes them now, and their
folders hold nothing else but the few files named here as written by hand.

Strimzi's cluster, topics and users and the autoscalers' triggers follow from libs/events and each service's
topics.py; the databases from one template. Change a service's CONSUMES, a partition count or the template and
forget ``make k8s``, and this says which file to regenerate.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
sys.path.insert(0, str(K8S))

from k8sgen.__main__ import outputs  # noqa: E402

GENERATED_COMPONENTS = ("strimzi", "state-agencies", "autoscaling", "cloudnative-pg")
# The backups' ObjectStore: one object, whose comments say how to point it at each kind of S3.
WRITTEN_BY_HAND = {K8S / "components" / "cloudnative-pg" / "microcred-backups.yaml"}


def stale_files(generated: dict[Path, str]) -> list[str]:
    return [str(path.relative_to(ROOT)) for path, text in generated.items()
            if not path.exists() or path.read_text() != text]


def strays(generated: dict[Path, str]) -> list[str]:
    """Files in a generated component that the generator does not write and nobody declared hand-written."""
    present = {path for name in GENERATED_COMPONENTS for path in (K8S / "components" / name).iterdir()}
    return sorted(str(path.relative_to(ROOT)) for path in present - generated.keys() - WRITTEN_BY_HAND)


def test_the_committed_components_are_what_make_k8s_generates_from_the_code() -> None:
    stale = stale_files(outputs())
    assert not stale, f"the components disagree with the code: run `make k8s` and commit {stale}"


def test_a_generated_component_holds_no_file_the_generator_no_longer_writes() -> None:
    assert strays(outputs()) == [], "delete what make k8s no longer writes (or name it in WRITTEN_BY_HAND)"


def test_the_checks_name_a_file_edited_by_hand_and_a_leftover_one() -> None:
    generated = outputs()
    path = next(iter(generated))
    generated[path] += "# edited by hand\n"
    assert str(path.relative_to(ROOT)) in stale_files(generated)
    leftover = next(p for p in generated if p.parent.name == "cloudnative-pg")
    del generated[leftover]
    assert strays(generated) == [str(leftover.relative_to(ROOT))]
