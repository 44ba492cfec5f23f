from pydantic import Field

from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings

# Not secret once issued (Open Badges publishes the salt beside the hash), but each deployment needs
# its own: a salt shared with every other installation would make identity hashes comparable across them.
LOCAL_IDENTITY_SALT = "microcred-local-identity-salt"


class AwardSettings(ServiceSettings):
    service_name: str = "award"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/award"
    http_port: int = 15413
    identity_salt: str = Field(default=LOCAL_IDENTITY_SALT, min_length=16)

    def default_secrets_in_use(self) -> list[str]:
        found = super().default_secrets_in_use()
        if self.identity_salt == LOCAL_IDENTITY_SALT:
            found.append("identity_salt")
        return found
