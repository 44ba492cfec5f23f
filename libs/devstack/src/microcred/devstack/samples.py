"""What the end-to-end tests and the pipeline benchmark drive the platform with, defined once.

A credential definition with a two-criterion rubric and two evidence requirements, the service settings
that make a throwaway platform quick to observe, and real MP4 evidence generated with PyAV (the
submission service probes what it receives, so fake bytes would be rejected).
"""

from __future__ import annotations

import functools
import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from microcred.events import CredentialAwarded

RUBRIC: dict[str, Any] = {
    "criteria": [
        {"key": "overview", "name": "Overview of the lesson", "levels": [
            {"key": "not-yet", "name": "Not Yet", "points": 0, "descriptor": "Missing context."},
            {"key": "proficient", "name": "Proficient", "points": 1, "descriptor": "Clear context."}]},
        {"key": "adjustment", "name": "Adjusting instruction", "levels": [
            {"key": "not-yet", "name": "Not Yet", "points": 0},
            {"key": "proficient", "name": "Proficient", "points": 1}]},
    ],
    "passing_rule": {"kind": "all_criteria_at_least", "level": "proficient"},
}
CRITERIA: dict[str, Any] = {"items": [
    {"key": "classroom-video", "kind": "video", "title": "Video of the lesson"},
    {"key": "reflection", "kind": "reflection", "title": "Reflection",
     "prompts": ["What did the formative data tell you?"]},
]}
PROFICIENT = {"overview": "proficient", "adjustment": "proficient"}
NOT_YET = {"overview": "not-yet", "adjustment": "not-yet"}


def expiring_award(teacher_id: str, valid_until: datetime, *, states: tuple[str, ...]) -> CredentialAwarded:
    """An award as the award service would announce it, but expiring at ``valid_until`` (seconds away, for a
    test of the expiry sweep: the platform's credentials expire in whole months). Publish it with
    ``client.publish_as(bootstrap, "award", ...)``."""
    return CredentialAwarded(
        correlation_id=uuid.uuid4(), states=states, award_id=uuid.uuid4(), submission_id=uuid.uuid4(),
        credential_id=uuid.uuid4(), credential_version=1, credential_name="Expiring Practice",
        issuer_id=uuid.uuid4(), teacher_id=teacher_id, issued_at=datetime.now(UTC), valid_until=valid_until,
        credential={"id": f"urn:uuid:{uuid.uuid4()}", "validUntil": valid_until.isoformat()},
    )


def credential_definition(name: str, rubric: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": "The educator modifies instruction during a lesson using formative assessment.",
        "competency": "Modifies instruction in the moment based on formative evidence of student learning.",
        "key_method": "The educator gathers evidence mid-lesson and adjusts instruction in response.",
        "method_components": ["Plan checks for understanding", "Adjust instruction"],
        "research": [{"title": "Black & Wiliam, Inside the Black Box (1998)"}],
        "submission_criteria": CRITERIA,
        "rubric": rubric or RUBRIC,
    }


# Small multipart thresholds (S3's minimum part size) so uploads exercise parts with little data, and
# evidence retention of about a second so the retention test can purge an award's evidence (the periodic
# sweep runs every hour; nothing else reads evidence bytes after an award).
QUICK_SERVICE_ENV = {
    "MICROCRED_SINGLE_UPLOAD_MAX_BYTES": str(5 * 1024**2),
    "MICROCRED_PART_SIZE_BYTES": str(5 * 1024**2),
    "MICROCRED_EVIDENCE_RETENTION_HOURS": "0.0003",  # about a second
    # Single scoring: with calibration on, review double-scores the first submissions of each credential,
    # which review's own tests cover and which the benchmark must not mistake for the flow.
    "MICROCRED_CALIBRATION_SIZE": "0",
    "MICROCRED_DOUBLE_SCORE_SHARE": "0",
    # Webhook retries in fractions of a second, so a receiver coming back is seen within a test.
    "MICROCRED_WEBHOOK_RETRY_BASE_SECONDS": "0.3",
    "MICROCRED_WEBHOOK_RETRY_MAX_SECONDS": "1.5",
    "MICROCRED_WEBHOOK_POLL_INTERVAL_SECONDS": "0.2",
    # The recognition review queue polled twice a second, so a stack change's re-evaluations are seen within a test.
    "MICROCRED_RECOGNITION_REVIEW_INTERVAL_SECONDS": "0.5",
}


def make_video(path: Path, seconds: float, *, width: int = 160, height: int = 120, fps: int = 10,
               noise: bool = False) -> Path:
    """A real MP4 (MPEG-4 Part 2) made with PyAV. Noise frames at the finest quantizer barely compress,
    so a big file takes well under a second per 50 MB."""
    import av  # only the tools that generate evidence need PyAV

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if noise:
            stream.codec_context.qmin = stream.codec_context.qmax = 1
            stream.bit_rate = 400_000_000
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                size = plane.line_size * plane.height
                plane.update(os.urandom(size) if noise else bytes([index * 7 % 256]) * size)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@functools.cache
def tiny_video() -> bytes:
    """One second of a small real video, made once per process."""
    with tempfile.TemporaryDirectory() as scratch:
        return make_video(Path(scratch) / "tiny.mp4", 1.0).read_bytes()
