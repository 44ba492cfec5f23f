from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings


class CatalogSettings(ServiceSettings):
    service_name: str = "catalog"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/catalog"
    http_port: int = 15410
