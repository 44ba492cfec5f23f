"""Each reviewer's open work as a counter on their row (``reviewers.open_reviews``), kept by the database.

Routing (``ReviewerRepository.least_loaded``) ordered reviewers by an aggregate over every open assignment on
each routing pass, and ``get``/``list`` counted per reviewer: work that grows with the open assignments, under
the routing lock that serialises every pass. The counter makes that a read of the reviewers' own rows.

It is kept by a trigger on ``reviews`` rather than by the repositories: every write of a seat (assign, score,
decline, overdue release, withdrawal, reassignment, an adjudicator's seat, and any path added later) moves it
in the transaction that moves the seat, so it cannot drift from the rows it counts, which is what counting from
``reviews`` guaranteed before. Concurrency: the trigger's ``UPDATE`` takes the reviewer row's lock, and every
writer of seats already holds routing's advisory lock (``ReviewRepository.lock_routing``), so the counter a
routing pass reads is the committed count, as the aggregate was. The trigger's statement runs inside the
server, so it adds no round trip (and ``pg_stat_statements``, tracking top-level statements, does not list it).

No index on the counter: a routing pass reads the reviewers' rows, a short table, and an unindexed counter
lets PostgreSQL update the row in place (HOT) on every assignment.

The count is initialised from the rows under a lock that keeps seats from being written meanwhile (the
migration runs in one transaction; the trigger exists before the count is taken).

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reviewers", sa.Column("open_reviews", sa.Integer, nullable=False, server_default="0"))
    # plpgsql: OLD is NULL on INSERT and NEW on DELETE, and each branch checks TG_OP before reading them.
    op.execute(
        """
        CREATE FUNCTION reviews_count_open_work() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                IF OLD.status = 'assigned' AND OLD.reviewer_id IS NOT NULL THEN
                    UPDATE reviewers SET open_reviews = open_reviews - 1 WHERE reviewer_id = OLD.reviewer_id;
                END IF;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                IF NEW.status = 'assigned' AND NEW.reviewer_id IS NOT NULL THEN
                    UPDATE reviewers SET open_reviews = open_reviews + 1 WHERE reviewer_id = NEW.reviewer_id;
                END IF;
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER reviews_count_open_work_rows AFTER INSERT OR DELETE ON reviews "
        "FOR EACH ROW EXECUTE FUNCTION reviews_count_open_work()"
    )
    # Only a change of who holds the seat or of its status moves the count; other updates do not call it.
    op.execute(
        "CREATE TRIGGER reviews_count_open_work_changes AFTER UPDATE OF status, reviewer_id ON reviews "
        "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.reviewer_id IS DISTINCT FROM NEW.reviewer_id) "
        "EXECUTE FUNCTION reviews_count_open_work()"
    )
    # CREATE TRIGGER already holds a lock that blocks writes to reviews until this transaction commits;
    # the explicit lock says so and keeps holding should the order above change.
    op.execute("LOCK TABLE reviews IN SHARE ROW EXCLUSIVE MODE")
    op.execute(
        """
        UPDATE reviewers SET open_reviews = open.n
        FROM (SELECT reviewer_id, count(*) AS n FROM reviews WHERE status = 'assigned' GROUP BY reviewer_id) AS open
        WHERE reviewers.reviewer_id = open.reviewer_id
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER reviews_count_open_work_changes ON reviews")
    op.execute("DROP TRIGGER reviews_count_open_work_rows ON reviews")
    op.execute("DROP FUNCTION reviews_count_open_work()")
    op.drop_column("reviewers", "open_reviews")
