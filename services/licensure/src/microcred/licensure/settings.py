from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings


class LicensureSettings(ServiceSettings):
    service_name: str = "licensure"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/licensure"
    http_port: int = 15414
