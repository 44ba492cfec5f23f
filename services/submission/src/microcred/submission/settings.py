from typing import Literal

from pydantic import Field, model_validator

from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings

LOCAL_S3_ACCESS_KEY = "microcred"
LOCAL_S3_SECRET_KEY = "microcred-local-s3"  # noqa: S105 - the documented local-only default


class SubmissionSettings(ServiceSettings):
    service_name: str = "submission"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/submission"
    http_port: int = 15411

    # Any S3: MinIO, SeaweedFS, Ceph RGW, a cloud's S3-compatible store, or AWS S3 itself when empty (the
    # region's endpoint, https://s3.<region>.amazonaws.com).
    s3_endpoint: str = "http://127.0.0.1:15403"
    # Presigned URLs are signed for the host the browser reaches, which is often not the in-cluster
    # name the service itself uses; None means the two are the same.
    s3_public_endpoint: str | None = None
    s3_access_key: str = LOCAL_S3_ACCESS_KEY
    s3_secret_key: str = LOCAL_S3_SECRET_KEY
    s3_bucket: str = "evidence"
    s3_region: str = "us-east-1"
    # How URLs name the bucket. "auto": virtual-hosted on AWS, path-style elsewhere (what MinIO, SeaweedFS and
    # most S3-compatible stores expect); "virtual" for a store that requires bucket host names, "path" to force
    # the bucket into the path. Empty access and secret keys mean no static keys: the AWS chain of web
    # identity (EKS IRSA) and instance metadata is asked instead.
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # Presigned URLs live minutes, not days: a leaked URL is worth little, a client resumes with fresh
    # part URLs, and a reviewer asks for a fresh download URL. The bounds are the platform's policy (at most
    # 15 minutes to upload, 5 to download), not S3's own limit of 7 days.
    upload_url_ttl_seconds: int = Field(default=900, ge=60, le=900)
    download_url_ttl_seconds: int = Field(default=300, ge=30, le=300)
    max_evidence_bytes: int = 2 * 1024**3
    # Up to this size one presigned PUT; above it a multipart upload in parts of part_size_bytes. A
    # verified single upload is sealed by one CopyObject, which S3 allows up to the same 5 GiB.
    single_upload_max_bytes: int = Field(default=16 * 1024**2, ge=1, le=5 * 1024**3)
    part_size_bytes: int = Field(default=16 * 1024**2, ge=5 * 1024**2, le=5 * 1024**3)
    # The media probe reads the container header by ranges; it gives up after this many bytes.
    probe_max_read_bytes: int = Field(default=64 * 1024**2, ge=1024**2)
    # Verifying reads a sealed object whole (for its sha256); one this small is kept in memory for that
    # pass and the probe reads it there instead of through range GETs. 4 MiB covers short clips and every
    # text or document item, at most 4 MiB per completion in progress; the probe reads only a larger video's
    # header and index, a few 512 KiB range reads, so keeping more would buy little for its memory.
    inspect_keep_max_bytes: int = Field(default=4 * 1024**2, ge=0, le=64 * 1024**2)
    # An object up to this size is read and hashed on the event loop rather than in a worker thread: hashing
    # holds the loop about 0.6 ms per MiB here, less than the hand-over to a thread costs for small items.
    # 0 sends every read to a thread.
    inspect_on_loop_max_bytes: int = Field(default=1024**2, ge=0, le=4 * 1024**2)
    # Evidence bytes are deleted this long after the decision became final (awarded or withdrawn).
    evidence_retention_hours: float = Field(default=24 * 365, gt=0)
    # Uploads declared but never completed are aborted and deleted after this long.
    orphan_upload_hours: float = Field(default=24, gt=0)
    # The bucket's own lifecycle rule aborts multipart uploads still incomplete after this many days, on any
    # S3 (the service sets it at start-up through the S3 API; see EvidenceStore.ensure_abandoned_upload_rule).
    # Longer than the orphan sweep's age, so the sweep (which also marks the item abandoned) acts first and
    # the store never aborts an upload the service still accepts. None leaves the bucket's lifecycle to
    # whoever owns the bucket (a platform team that forbids services to change bucket configuration).
    s3_abort_incomplete_upload_days: int | None = Field(default=2, ge=1)
    sweep_interval_seconds: float = Field(default=3600, gt=0)
    # The uploads of sealed items are deleted together this often, one DeleteObjects request for all of them
    # (adapters.removal_queue); a longer interval makes fewer requests and leaves the garbage longer.
    upload_removal_interval_seconds: float = Field(default=5, gt=0, le=3600)
    # The submissions-by-status gauge is re-read from the database this often (never on scrape).
    gauge_refresh_interval_seconds: float = Field(default=15, gt=0)

    @model_validator(mode="after")
    def _public_endpoint_defaults_to_internal(self) -> "SubmissionSettings":
        if not self.s3_endpoint:
            self.s3_endpoint = f"https://s3.{self.s3_region}.amazonaws.com"
        if self.s3_public_endpoint is None:
            self.s3_public_endpoint = self.s3_endpoint
        return self

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> "SubmissionSettings":
        if bool(self.s3_access_key) != bool(self.s3_secret_key):
            raise ValueError("s3_access_key and s3_secret_key are both set (static keys) or both empty (a role)")
        return self

    @model_validator(mode="after")
    def _store_rule_outlasts_the_orphan_sweep(self) -> "SubmissionSettings":
        days = self.s3_abort_incomplete_upload_days
        if days is not None and days * 24 <= self.orphan_upload_hours:
            raise ValueError(
                f"s3_abort_incomplete_upload_days ({days}) must be longer than orphan_upload_hours "
                f"({self.orphan_upload_hours}): the store would abort uploads the service still accepts"
            )
        return self

    def default_secrets_in_use(self) -> list[str]:
        found = super().default_secrets_in_use()
        if self.s3_secret_key == LOCAL_S3_SECRET_KEY:
            found.append("s3_secret_key")
        return found
