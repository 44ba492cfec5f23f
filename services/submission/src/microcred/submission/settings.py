from pydantic import model_validator

from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings

LOCAL_S3_ACCESS_KEY = "microcred"
LOCAL_S3_SECRET_KEY = "microcred-local-s3"  # noqa: S105 - the documented local-only default


class SubmissionSettings(ServiceSettings):
    service_name: str = "submission"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/submission"
    http_port: int = 15411

    s3_endpoint: str = "http://127.0.0.1:15403"
    # Presigned URLs are signed for the host the browser reaches, which is often not the in-cluster
    # name the service itself uses; None means the two are the same.
    s3_public_endpoint: str | None = None
    s3_access_key: str = LOCAL_S3_ACCESS_KEY
    s3_secret_key: str = LOCAL_S3_SECRET_KEY
    s3_bucket: str = "evidence"
    s3_region: str = "us-east-1"
    upload_url_ttl_seconds: int = 900
    download_url_ttl_seconds: int = 300
    max_evidence_bytes: int = 2 * 1024**3

    @model_validator(mode="after")
    def _public_endpoint_defaults_to_internal(self) -> "SubmissionSettings":
        if self.s3_public_endpoint is None:
            self.s3_public_endpoint = self.s3_endpoint
        return self

    def default_secrets_in_use(self) -> list[str]:
        found = super().default_secrets_in_use()
        if self.s3_secret_key == LOCAL_S3_SECRET_KEY:
            found.append("s3_secret_key")
        return found
