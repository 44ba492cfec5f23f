from pathlib import Path

from pydantic import Field

from microcred.events.topics import STATE_FEED_PARTITIONS
from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings


class LicensureSettings(ServiceSettings):
    service_name: str = "licensure"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/licensure"
    http_port: int = 15414
    create_state_topics: bool = Field(
        default=True,
        description="Create licensure.state.<XX> for every state with a rule set. Turn off where topics are "
        "provisioned by the platform team (docs/operations/kafka-topics-and-acls.md).",
    )
    state_topic_partitions: int = Field(default=STATE_FEED_PARTITIONS, ge=1)
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    webhook_give_up_after_hours: float = Field(default=72.0, gt=0)
    webhook_poll_interval_seconds: float = Field(default=1.0, gt=0)
    expiry_sweep_interval_seconds: float = Field(default=3600.0, gt=0)
    # The recognition review queue: teachers whose standing time may have changed, or a stack change touched.
    recognition_review_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often the recognition review queue is polled once it is drained.")
    recognition_review_batch: int = Field(
        default=100, ge=1, le=10_000,
        description="Teachers re-evaluated per transaction when draining the recognition review queue.")
    recognition_review_retry_after_seconds: float = Field(
        default=3600.0, gt=0,
        description="How long a teacher whose review failed on their own is set aside before it is tried again.")
    # Pending approvals and undelivered webhooks per state are re-read this often (never on scrape).
    gauge_refresh_interval_seconds: float = Field(default=15.0, gt=0)
    extra_programs_dir: Path | None = Field(
        default=None,
        description="A folder of recognition program files (programs/*.json's format) a deployment adds to the "
        "shipped ones; read once at start, so a bad file stops the service there rather than at the first event.",
    )
