"""Kafka topics and permissions in the cluster are what the code declares, and no principal reaches past its own.

The Strimzi objects in deploy/k8s/components/strimzi and state-agencies are generated (``make k8s``) from libs/events
and each service's ``topics.py`` (test_generated_components.py: the committed files are what the generator writes
now). These tests hold them to the code: every declared topic has a KafkaTopic and nothing else does; and, on the objects as kustomize renders them,
no state reaches another state's feed or any other topic, no service writes a topic it does not own, and each
service's groups are covered by its own Read ACL and by no one else's. The ACL checks do not ask the generator:
they evaluate Kafka's own matching (literal, prefix, ``*``) against every topic and group there is, and each one is
shown to fail on a deliberately wrong object.
"""

from __future__ import annotations

import copy
import itertools
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from system_tools import require_tool

from microcred.events import state_feed_topic
from microcred.events.registry import PER_STATE_EVENTS, all_topics, dead_letter_topic
from microcred.events.topics import consumer_group, state_feed, topic_spec

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPONENTS = (K8S / "components" / "strimzi", K8S / "components" / "state-agencies")
sys.path.insert(0, str(K8S))

from k8sgen.declarations import AGENCY_STATES, KafkaClient, feed_states, kafka_clients  # noqa: E402

Obj = dict[str, Any]
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
# What each kind of principal may ever be granted. Create is absent on purpose: topics exist only as KafkaTopics.
SERVICE_OPERATIONS = {"Read", "Write", "Describe"}
AGENCY_OPERATIONS = {"Read", "Describe"}
# Every two-letter state code, so "another state's feed" covers states nobody has configured yet.
ALL_STATE_CODES = ["".join(pair) for pair in itertools.product("ABCDEFGHIJKLMNOPQRSTUVWXYZ", repeat=2)]


# --- reading the objects -----------------------------------------------------------------------------------


def committed_objects() -> list[Obj]:
    return [doc for folder in COMPONENTS for path in sorted(folder.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text()) if doc and doc.get("kind") in STRIMZI_KINDS]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Obj]:
    """The base with both components, as kustomize renders them (a kustomization of the test's own)."""
    kubectl = require_tool("kubectl", "renders the kustomize components offline")
    folder = tmp_path_factory.mktemp("kafka-components")
    relative = Path(os.path.relpath(K8S, folder))
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": "microcred",
        "resources": [str(relative / "base")],
        "components": [str(relative / "components" / c.name) for c in COMPONENTS],
    }))
    result = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: Iterable[Obj], kind: str) -> dict[str, Obj]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def clients() -> dict[str, KafkaClient]:
    return {client.user: client for client in kafka_clients()}


# --- Kafka's ACL matching ----------------------------------------------------------------------------------


def matches(resource: Obj, resource_type: str, name: str) -> bool:
    """Whether an ACL's resource covers ``name``, as Kafka's authorizer decides it."""
    if resource["type"] != resource_type:
        return False
    pattern = resource.get("name", "")
    if resource.get("patternType", "literal") == "prefix":
        return name.startswith(pattern)
    return pattern in ("*", name)


def allowed(user: Obj, resource_type: str, name: str) -> set[str]:
    """The operations ``user`` may perform on the named resource (deny rules are not generated; one fails a check)."""
    acls = user["spec"].get("authorization", {}).get("acls", [])
    return {op for acl in acls if matches(acl["resource"], resource_type, name) for op in acl["operations"]}


def topic_universe(objects: list[Obj]) -> set[str]:
    """Every topic there is or could be: the KafkaTopics, every topic in libs/events, any state's feed."""
    topics = {t["spec"].get("topicName", t["metadata"]["name"]) for t in of_kind(objects, "KafkaTopic").values()}
    return topics | set(all_topics()) | {state_feed_topic(code) for code in ALL_STATE_CODES}


def group_universe() -> set[str]:
    """Every group a service joins, and groups in every state agency's prefix."""
    groups = {group for client in kafka_clients() for group in client.groups()}
    return groups | {f"state-{code.lower()}.reader" for code in ALL_STATE_CODES}


# --- the checks, each returning what is wrong --------------------------------------------------------------


def acl_shape_problems(objects: list[Obj]) -> list[str]:
    """No wildcard, no deny, no cluster or transactional-id resource, no operation beyond each kind's own."""
    problems = []
    for name, user in of_kind(objects, "KafkaUser").items():
        permitted = AGENCY_OPERATIONS if name.startswith("state-") else SERVICE_OPERATIONS
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            if resource["type"] not in ("topic", "group") or resource.get("name") in (None, "", "*"):
                problems.append(f"{name}: ACL on {resource}")
            if acl.get("type", "allow") != "allow":
                problems.append(f"{name}: a {acl['type']} rule")
            if resource["type"] == "topic" and resource.get("patternType", "literal") != "literal":
                problems.append(f"{name}: topic ACL by {resource['patternType']} {resource['name']!r}")
            if extra := set(acl["operations"]) - permitted:
                problems.append(f"{name}: {sorted(extra)} on {resource['name']}")
    return problems


def agency_problems(objects: list[Obj]) -> list[str]:
    """Each agency reads its own feed and nothing else, in groups of its own, under a quota."""
    problems = []
    users = of_kind(objects, "KafkaUser")
    topics, groups = topic_universe(objects), group_universe()
    for state in AGENCY_STATES:
        name, feed = f"state-{state.lower()}", state_feed_topic(state)
        user = users.get(name)
        if user is None:
            problems.append(f"no KafkaUser {name}")
            continue
        reached = {topic for topic in topics if allowed(user, "topic", topic)}
        if reached != {feed}:
            problems.append(f"{name} reaches {sorted(reached - {feed})[:5]} (and has its feed: {feed in reached})")
        if allowed(user, "topic", feed) != {"Read", "Describe"}:
            problems.append(f"{name} may {sorted(allowed(user, 'topic', feed))} on {feed}")
        foreign = {g for g in groups if allowed(user, "group", g) and not g.startswith(f"{name}.")}
        if foreign or "Read" not in allowed(user, "group", f"{name}.feed-reader"):
            problems.append(f"{name} groups: reaches {sorted(foreign)[:5]}, own prefix readable: "
                            f"{'Read' in allowed(user, 'group', f'{name}.feed-reader')}")
        if not user["spec"].get("quotas", {}).get("consumerByteRate"):
            problems.append(f"{name} has no consumerByteRate quota")
    return problems


def service_topic_problems(objects: list[Obj]) -> list[str]:
    """A service writes only what it owns (topics named after it, of contracts it produces, or the dead letters of
    topics it consumes) and reads exactly what it consumes."""
    problems = []
    users = of_kind(objects, "KafkaUser")
    topics = topic_universe(objects)
    writers: dict[str, set[str]] = {}
    for user_name, client in clients().items():
        user = users.get(user_name)
        if user is None:
            problems.append(f"no KafkaUser {user_name}")
            continue
        produced = {cls.topic for cls in client.produces if cls not in PER_STATE_EVENTS}
        per_state = [cls.topic for cls in client.produces if cls in PER_STATE_EVENTS]
        consumed = {cls.topic for cls in client.consumes}
        for topic in sorted(t for t in topics if "Write" in allowed(user, "topic", t)):
            writers.setdefault(topic, set()).add(user_name)
            # Topics are named after the service that writes them; the dead letters of a topic, by its consumers.
            own_event = topic.startswith(f"{client.name}.") and (
                topic in produced or any(topic.startswith(f"{prefix}.") for prefix in per_state))
            own_dead_letter = topic.endswith(".dlt") and topic.removesuffix(".dlt") in consumed
            if not (own_event or own_dead_letter):
                problems.append(f"{user_name} may write {topic}, which it does not own")
        feeds = {state_feed_topic(state) for state in feed_states()} if per_state else set()
        for topic in sorted(produced | feeds | {dead_letter_topic(t) for t in consumed}):
            if "Write" not in allowed(user, "topic", topic):
                problems.append(f"{user_name} cannot write {topic}, which it must")
        read = {t for t in topics if "Read" in allowed(user, "topic", t)}
        if read != consumed:
            problems.append(f"{user_name} reads {sorted(read)}, but consumes {sorted(consumed)}")
    problems += [f"{topic} has several writers {sorted(names)}" for topic, names in writers.items()
                 if len(names) > 1 and not topic.endswith(".dlt")]
    return problems


def group_problems(objects: list[Obj]) -> list[str]:
    """Every group a service joins is covered by its Read ACL; no other principal's group is."""
    problems = []
    users = of_kind(objects, "KafkaUser")
    groups = group_universe()
    for user_name, client in clients().items():
        user = users.get(user_name)
        if user is None:
            continue
        own = {consumer_group(client.name, cls.topic) for cls in client.consumes}
        problems += [f"{user_name} cannot read its group {g}" for g in sorted(own) if "Read" not in allowed(user, "group", g)]
        problems += [f"{user_name} may use the group {g} of another" for g in sorted(groups - own)
                     if allowed(user, "group", g)]
    return problems


def topic_object_problems(objects: list[Obj]) -> list[str]:
    """A KafkaTopic for every topic the code declares, none other, each sized as libs/events says."""
    declared = set(all_topics()) | {state_feed_topic(s) for s in feed_states()}
    used = {topic for client in kafka_clients() for topic in client.written_topics(feed_states()) + client.read_topics()}
    found = {t["spec"]["topicName"]: t for t in of_kind(objects, "KafkaTopic").values()}
    problems = [f"no KafkaTopic for {t}" for t in sorted((declared | used) - found.keys())]
    problems += [f"KafkaTopic {t} is not a topic of the code" for t in sorted(found.keys() - declared)]
    for name, obj in sorted(found.items()):
        if name not in declared:
            continue
        spec = state_feed(name.rsplit(".", 1)[1]) if name.startswith("licensure.state.") else topic_spec(name)
        want = {"partitions": spec.partitions, "replicas": 3,
                "config": {"min.insync.replicas": 2, "retention.ms": spec.retention_ms}}
        have = {key: obj["spec"].get(key) for key in want}
        if have != want:
            problems.append(f"KafkaTopic {name}: {have}, libs/events says {want}")
    return problems


# --- the tests ---------------------------------------------------------------------------------------------


def test_every_topic_the_code_declares_has_a_kafka_topic_sized_as_declared_and_no_other_exists(
    rendered: list[Obj],
) -> None:
    assert topic_object_problems(rendered) == []


def test_no_acl_has_a_wildcard_a_prefix_topic_a_cluster_resource_or_an_operation_beyond_its_kind(
    rendered: list[Obj],
) -> None:
    assert acl_shape_problems(rendered) == []


def test_no_state_reaches_another_states_feed_or_any_topic_but_its_own(rendered: list[Obj]) -> None:
    assert agency_problems(rendered) == []


def test_no_service_writes_a_topic_it_does_not_own_and_each_reads_exactly_what_it_consumes(
    rendered: list[Obj],
) -> None:
    assert service_topic_problems(rendered) == []


def test_each_services_groups_are_covered_by_its_read_acl_and_no_one_elses(rendered: list[Obj]) -> None:
    assert group_problems(rendered) == []


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_each_overlay_as_deployed_keeps_every_principal_to_its_own(overlay: str) -> None:
    """The same checks on what an operator applies: an overlay's patches must not widen a grant, and production's
    agencies (the only overlay with them) each reach their own feed alone."""
    kubectl = require_tool("kubectl", "renders the overlays offline")
    result = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    problems = acl_shape_problems(objects) + service_topic_problems(objects) + group_problems(objects)
    problems += topic_object_problems(objects)
    if overlay == "production":
        problems += agency_problems(objects)
    else:  # no agency reads a laptop's cluster
        assert not [name for name in of_kind(objects, "KafkaUser") if name.startswith("state-")]
    assert problems == []


def test_the_cluster_is_kraft_with_three_brokers_tls_scram_acls_and_no_auto_created_topics(rendered: list[Obj]) -> None:
    kafka = of_kind(rendered, "Kafka")["microcred"]
    # Strimzi 1.0 serves v1 only, where KRaft and node pools are the only way: no annotation switches them on.
    assert not kafka["metadata"].get("annotations"), kafka["metadata"]
    spec = kafka["spec"]["kafka"]
    assert spec["listeners"] == [{"name": "tls", "port": 9093, "type": "internal", "tls": True,
                                  "authentication": {"type": "scram-sha-512"}}]
    assert spec["authorization"] == {"type": "simple"}
    config = spec["config"]
    assert config["auto.create.topics.enable"] is False
    assert (config["default.replication.factor"], config["min.insync.replicas"]) == (3, 2)
    pools = [p for p in of_kind(rendered, "KafkaNodePool").values() if p["metadata"]["labels"]["strimzi.io/cluster"]
             == "microcred"]
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) == 3
    assert sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"]) == 3
    for obj in rendered:
        if obj["kind"] in STRIMZI_KINDS - {"Kafka"}:
            assert obj["metadata"]["labels"]["strimzi.io/cluster"] == "microcred", obj["metadata"]["name"]


def test_every_strimzi_object_uses_the_v1_api_the_pinned_strimzi_release_serves(rendered: list[Obj]) -> None:
    # Strimzi 1.0.0 (deploy/k8s/schemas/strimzi) refuses v1beta2; the CRD schema check in test_overlays.py then
    # holds each object to v1's fields, and the ACL checks here read v1's list of operations.
    strimzi = [o for o in rendered if o["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {o["kind"] for o in strimzi} == STRIMZI_KINDS
    assert {o["apiVersion"] for o in strimzi} == {"kafka.strimzi.io/v1"}
    for user in of_kind(rendered, "KafkaUser").values():
        for rule in user["spec"]["authorization"]["acls"]:
            assert "operation" not in rule and rule["operations"], (user["metadata"]["name"], rule)


def test_the_canary_which_has_no_kafka_client_has_no_kafka_principal(rendered: list[Obj]) -> None:
    # Its KafkaUser's Secret would also be named microcred-canary, which is the canary's token Secret.
    assert "microcred-canary" not in of_kind(rendered, "KafkaUser")
    assert "canary" not in {client.name for client in kafka_clients()}


def test_licensure_writes_the_provisioned_feeds_and_never_creates_a_topic(rendered: list[Obj]) -> None:
    # Feeds are KafkaTopics (three replicas, retention), so licensure has no Create ACL and is told not to try.
    server = next(c for c in of_kind(rendered, "Deployment")["licensure"]["spec"]["template"]["spec"]["containers"]
                  if c["name"] == "server")
    assert {"name": "MICROCRED_CREATE_STATE_TOPICS", "value": "false"} in server["env"]
    licensure = of_kind(rendered, "KafkaUser")["microcred-licensure"]
    for state in feed_states():
        assert allowed(licensure, "topic", state_feed_topic(state)) == {"Write", "Describe"}
    assert set(AGENCY_STATES) <= set(feed_states())


# --- each check fails on a deliberately wrong object -------------------------------------------------------


def wrong(mutate: Any) -> list[Obj]:
    objects = copy.deepcopy(committed_objects())
    mutate({(o["kind"], o["metadata"]["name"]): o for o in objects})
    return objects


def acls(objects: dict[tuple[str, str], Obj], user: str) -> list[Obj]:
    acl_list: list[Obj] = objects[("KafkaUser", user)]["spec"]["authorization"]["acls"]
    return acl_list


def acl(resource_type: str, name: str, operations: list[str], pattern: str = "literal") -> Obj:
    return {"resource": {"type": resource_type, "name": name, "patternType": pattern}, "operations": operations}


def test_the_checks_pass_on_the_committed_objects() -> None:
    objects = committed_objects()
    assert [acl_shape_problems(objects), agency_problems(objects), service_topic_problems(objects),
            group_problems(objects), topic_object_problems(objects)] == [[], [], [], [], []]


@pytest.mark.parametrize(("what", "mutate"), [
    ("a state reads every feed", lambda o: acls(o, "state-tn").__setitem__(
        0, acl("topic", "licensure.state.", ["Read", "Describe"], "prefix"))),
    ("a state reads another state's feed", lambda o: acls(o, "state-ut").append(
        acl("topic", "licensure.state.TN", ["Read"]))),
    ("a state reads a platform topic", lambda o: acls(o, "state-ar").append(acl("topic", "award.awarded", ["Read"]))),
    ("a state's group prefix covers the others'", lambda o: acls(o, "state-ar").__setitem__(
        1, acl("group", "state-", ["Read"], "prefix"))),
    ("a state has no quota", lambda o: o[("KafkaUser", "state-tn")]["spec"].pop("quotas")),
])
def test_the_agency_check_fails_on_a_state_reaching_past_its_feed(what: str, mutate: Any) -> None:
    assert agency_problems(wrong(mutate)), what


@pytest.mark.parametrize(("what", "mutate"), [
    ("review writes award's events", lambda o: acls(o, "microcred-review").append(
        acl("topic", "award.awarded", ["Write"]))),
    ("award writes the dead letters of a topic it does not read", lambda o: acls(o, "microcred-award").append(
        acl("topic", "review.assigned.dlt", ["Write"]))),
    ("submission writes every topic", lambda o: acls(o, "microcred-submission").append(acl("topic", "*", ["Write"]))),
    ("licensure loses its feed", lambda o: acls(o, "microcred-licensure").__delitem__(
        next(i for i, a in enumerate(acls(o, "microcred-licensure")) if a["resource"]["name"] == "licensure.state.TN"))),
    ("catalog, which consumes nothing, reads a topic", lambda o: acls(o, "microcred-catalog").append(
        acl("topic", "award.awarded", ["Read", "Describe"]))),
])
def test_the_ownership_check_fails_on_a_service_writing_what_it_does_not_own(what: str, mutate: Any) -> None:
    assert service_topic_problems(wrong(mutate)), what


@pytest.mark.parametrize(("what", "mutate"), [
    ("submission may join review's groups", lambda o: acls(o, "microcred-submission").append(
        acl("group", "review.", ["Read"], "prefix"))),
    ("award may join any group", lambda o: acls(o, "microcred-award").append(acl("group", "*", ["Read"]))),
    ("licensure's group ACL is gone", lambda o: acls(o, "microcred-licensure").pop()),
])
def test_the_group_check_fails_on_a_group_acl_that_is_missing_or_reaches_another(what: str, mutate: Any) -> None:
    assert group_problems(wrong(mutate)), what


@pytest.mark.parametrize(("what", "mutate"), [
    ("a topic with no KafkaTopic", lambda o: o[("KafkaTopic", "review.scored")].update(kind="Removed")),
    ("a KafkaTopic the code has not", lambda o: o[("KafkaTopic", "review.scored")]["spec"].update(
        topicName="review.scored-old")),
    ("fewer partitions than declared", lambda o: o[("KafkaTopic", "award.awarded")]["spec"].update(partitions=1)),
    ("dead letters that expire", lambda o: o[("KafkaTopic", "award.awarded.dlt")]["spec"]["config"].update(
        {"retention.ms": 86_400_000})),
])
def test_the_topic_check_fails_on_a_missing_extra_or_missized_topic(what: str, mutate: Any) -> None:
    assert topic_object_problems(wrong(mutate)), what


def test_the_shape_check_fails_on_create_a_wildcard_or_a_cluster_acl() -> None:
    create_by_prefix = wrong(lambda o: acls(o, "microcred-licensure").append(
        acl("topic", "licensure.state.", ["Create"], "prefix")))
    assert len(acl_shape_problems(create_by_prefix)) == 2  # the prefix, and Create
    assert acl_shape_problems(wrong(lambda o: acls(o, "microcred-catalog").append(acl("cluster", "kafka-cluster",
                                                                                       ["Describe"]))))
