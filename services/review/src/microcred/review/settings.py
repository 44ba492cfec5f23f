from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings


class ReviewSettings(ServiceSettings):
    service_name: str = "review"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/review"
    http_port: int = 15412
    review_due_days: int = 14
