"""Local infrastructure for Microcred: embedded PostgreSQL, SeaweedFS (S3) and Tansu (Kafka)."""

from .infra import (
    EmbeddedStack,
    Endpoints,
    Ports,
    StackError,
    TopicSpec,
)

__all__ = ["EmbeddedStack", "Endpoints", "Ports", "StackError", "TopicSpec"]
