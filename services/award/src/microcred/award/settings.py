from typing import Literal

from pydantic import Field, model_validator

from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings

# Each deployment needs its own: it is the HMAC key from which every credential's identity salt is
# derived, so with it anyone could test guessed emails against published hashes.
LOCAL_IDENTITY_SALT = "microcred-local-identity-salt"
# 32 zero-ish bytes, base64url: fine for a laptop, refused in production (see below).
LOCAL_KEY_ENCRYPTION_KEY = "bWljcm9jcmVkLWxvY2FsLWtleS1lbmNyeXB0aW9uLWs"


class AwardSettings(ServiceSettings):
    service_name: str = "award"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/award"
    http_port: int = 15413
    identity_salt: str = Field(default=LOCAL_IDENTITY_SALT, min_length=16)
    key_encryption_key: str = Field(
        default=LOCAL_KEY_ENCRYPTION_KEY,
        description="base64url of 32 bytes; seals the signing keys at rest. Mount it from a secret store.",
    )
    signing_key_scope: Literal["issuer", "operator"] = Field(
        default="issuer", description="One signing key per issuing organization, or one for the whole operator."
    )
    status_list_max_age_seconds: int = Field(
        default=300, ge=0, description="How long verifiers and CDNs may cache a status list."
    )

    def default_secrets_in_use(self) -> list[str]:
        found = super().default_secrets_in_use()
        if self.identity_salt == LOCAL_IDENTITY_SALT:
            found.append("identity_salt")
        if self.key_encryption_key == LOCAL_KEY_ENCRYPTION_KEY:
            found.append("key_encryption_key")
        return found

    @model_validator(mode="after")
    def _credentials_point_at_https(self) -> "AwardSettings":
        # Issuer ids, key ids and status lists are URLs inside signed credentials: they can never
        # change afterwards, so production must sign with the permanent public https address.
        if self.mode == "production" and not (self.public_base_url or "").startswith("https://"):
            raise ValueError("refusing to start in production mode: public_base_url must be the https:// "
                             "address verifiers reach this service at")
        return self
