"""Two replicas of every service, as two pods of each Deployment would run: the same database, the same
consumer groups, each its own process and port, requests spread over both by a round-robin client.

One flow with revisions goes through them, and half way through the second replica of every service is
killed (SIGKILL, as a node loss would): the survivors' relays publish what the dead ones had committed,
their consumers take over the dead ones' partitions, and every submission still ends with exactly one
award and one credit decision per license.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from microcred.devstack.client import Actor, PlatformClient
from microcred.devstack.platform import SERVICES, Platform, PlatformPorts, instance_name
from microcred.devstack.providers import infrastructure_for_tests
from microcred.devstack.samples import NOT_YET, PROFICIENT, QUICK_SERVICE_ENV, credential_definition, tiny_video
from microcred.devstack.topics import read_to_end
from microcred.events.topics import topic_spec
from microcred.runtime.auth import Role

pytestmark = pytest.mark.stack

# The lag gauges, which name the partitions each replica holds, refreshed every second instead of 15.
SCALE_OUT_ENV = QUICK_SERVICE_ENV | {"MICROCRED_METRICS_REFRESH_INTERVAL_SECONDS": "1"}
TEACHERS = 12  # each submits to both credentials: 24 submissions, every third revised once
LICENSES = (("TN",), ("UT",), ("TN", "UT"))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir: Path = tmp_path_factory.mktemp("scale-out")
    ports = PlatformPorts.free()
    with Platform(data_dir, ports, infra=infrastructure_for_tests(data_dir, ports), service_env=SCALE_OUT_ENV,
                  replicas=2) as running:
        yield running


def held_partitions(url: str) -> dict[str, set[int]]:
    """The partitions of each consumer group this replica holds: it exports their lag and no other's."""
    held: dict[str, set[int]] = defaultdict(set)
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5).text):
        if family.name == "microcred_consumer_lag_messages":
            for sample in family.samples:
                held[sample.labels["group"]].add(int(sample.labels["partition"]))
    return held


def wait_for_assignments(platform: Platform, instances: dict[str, list[str]], timeout: float = 90.0
                         ) -> dict[str, list[dict[str, set[int]]]]:
    """Each group's partitions, per replica of its service, once every group's are all held, each by one
    replica, and (with two replicas alive) both replicas hold some."""
    groups = platform.consumer_groups()
    deadline = time.monotonic() + timeout
    while True:
        held = {service: [held_partitions(platform.url(i)) for i in alive] for service, alive in instances.items()}
        wrong = []
        for group in groups:
            shares = [replica.get(group, set()) for replica in held[group.split(".", 1)[0]]]
            shared = all(shares) if len(shares) > 1 else True
            partitions = topic_spec(group.split(".", 1)[1]).partitions
            if sum(map(len, shares)) != partitions or set().union(*shares) != set(range(partitions)) \
                    or not shared:
                wrong.append(f"{group}: {shares}")
        if not wrong:
            return held
        if time.monotonic() > deadline:
            raise AssertionError(f"partitions not shared out between the replicas: {wrong}")
        time.sleep(1.0)


def test_two_replicas_of_every_service_share_the_work_and_survive_losing_one_each_mid_flow(
    platform: Platform
) -> None:
    client = PlatformClient({s: platform.urls(s) for s in SERVICES}, platform.tokens)
    both = {s: [instance_name(s, 1), instance_name(s, 2)] for s in SERVICES}
    before = wait_for_assignments(platform, both)
    assert all(len(replicas) == 2 for replicas in before.values())

    operator = client.operator("op-scale")
    issuer_id = client.create_issuer(operator, "Digital Promise", url="https://digitalpromise.org")
    admin = client.actor("admin-scale", Role.ISSUER_ADMIN, organization=issuer_id)
    credentials = []
    for name in ("Checking for Understanding", "Formative Assessment"):
        draft = client.draft_credential(admin, issuer_id, credential_definition(name))
        client.approve_and_publish(admin, operator, draft["credential_id"], 1)
        credentials.append(str(draft["credential_id"]))
    reviewers = [client.actor(f"reviewer-{n}", Role.REVIEWER) for n in range(3)]
    for reviewer in reviewers:  # fresh eyes for a revision need a second reviewer; three share the queue
        client.register_reviewer(operator, reviewer.subject, credentials, max_open=30)
    teachers: list[tuple[Actor, tuple[str, ...]]] = []
    for n in range(TEACHERS):
        states = LICENSES[n % len(LICENSES)]
        subject = f"teacher-{uuid.uuid4().hex[:8]}"
        teacher = client.actor(subject, Role.TEACHER, states=states)
        for state in states:
            client.register_license(teacher, state)
        teachers.append((teacher, states))

    def submit(job: tuple[Actor, str]) -> str:
        teacher, credential_id = job
        submission_id = str(client.start_submission(teacher, credential_id)["submission_id"])
        client.upload(teacher, submission_id, "classroom-video", tiny_video(), "video/mp4", "lesson.mp4")
        client.upload(teacher, submission_id, "reflection", b"The exit tickets showed ...", "text/plain",
                      "reflection.txt")
        client.answer_prompts(teacher, submission_id, {("reflection", 0): "Most students had it."})
        client.submit(teacher, submission_id)
        return submission_id

    jobs = [(teacher, credential_id) for teacher, _ in teachers for credential_id in credentials]
    with ThreadPoolExecutor(4) as pool:
        submissions = dict(zip(pool.map(submit, jobs), (teacher for teacher, _ in jobs), strict=True))
    revised = set(list(submissions)[::3])

    scored: set[str] = set()
    resubmitted: set[str] = set()
    awarded: dict[str, str] = {}
    killed = False
    deadline = time.monotonic() + 240
    while len(awarded) < len(submissions):
        assert time.monotonic() < deadline, f"awarded {len(awarded)} of {len(submissions)}, scored {len(scored)}"
        for reviewer in reviewers:
            for review in client.call("GET", "review", "/reviews/assigned", reviewer):
                if review["review_id"] in scored:
                    continue
                first_of_revised = review["submission_id"] in revised and review["attempt"] == 1
                client.score(reviewer, review["review_id"], NOT_YET if first_of_revised else PROFICIENT,
                             feedback="Show the regrouping." if first_of_revised else "")
                scored.add(review["review_id"])
        if not killed and len(scored) >= len(submissions) // 2:
            # Half way: every second replica dies with its requests, handlers and relay passes in flight. The
            # client sends to the survivors, as a load balancer whose health check failed would.
            for service in SERVICES:
                platform.kill_service(instance_name(service, 2))
                client.urls.replicas[service] = (platform.url(service),)
            killed = True
        for submission_id, teacher in submissions.items():
            if submission_id in awarded:
                continue
            status = client.submission(teacher, submission_id)
            if status["status"] == "awarded":
                awarded[submission_id] = status["award_id"]
            elif status["status"] == "revise_requested" and submission_id not in resubmitted:
                client.upload(teacher, submission_id, "reflection", b"Revised: I regrouped them.", "text/plain",
                              "reflection-v2.txt")
                client.submit(teacher, submission_id)
                resubmitted.add(submission_id)
        time.sleep(0.5)
    assert resubmitted == revised, "every third submission went through a revision"

    # The survivors hold every partition of every group: the dead replicas' shares moved to them.
    wait_for_assignments(platform, {s: [s] for s in SERVICES})

    bootstrap = platform.endpoints.kafka_bootstrap
    awards_of: dict[str, set[str]] = defaultdict(set)
    for event in read_to_end(bootstrap, ["award.awarded"])["award.awarded"]:
        if event.get("submission_id") in submissions:
            awards_of[event["submission_id"]].add(event["award_id"])
    assert {s: {a} for s, a in awarded.items()} == awards_of, "a submission was awarded more than once"
    listed = client.call("GET", "award", "/awards?limit=200", operator)
    assert sorted(a["submission_id"] for a in listed) == sorted(submissions), "one award per submission"

    entries_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in read_to_end(bootstrap, ["licensure.credit-posted"])["licensure.credit-posted"]:
        entries_of[(event["license_id"], event["award_id"])].add(event["entry_id"])
    expected_pairs = set()
    for teacher, states in teachers:
        mine = {awarded[s] for s, t in submissions.items() if t is teacher}
        licenses = client.call("GET", "licensure", "/licenses", teacher)
        assert sorted(lic["state"] for lic in licenses) == sorted(states)
        for lic in licenses:
            progress = client.call("GET", "licensure", f"/licenses/{lic['license_id']}/progress", teacher)
            credited = [e["award_id"] for e in progress["entries"]]
            assert sorted(credited) == sorted(mine), f"{lic['state']} credits: {credited}, awards {mine}"
            expected_pairs |= {(lic["license_id"], award_id) for award_id in mine}
    assert set(entries_of) == expected_pairs
    assert all(len(entries) == 1 for entries in entries_of.values()), "a license was credited twice for an award"
    assert not client.undocumented_answers()
    client.close()
