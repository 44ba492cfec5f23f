from pydantic import Field

from microcred.runtime.settings import LOCAL_DATABASE_PASSWORD, ServiceSettings


class ReviewSettings(ServiceSettings):
    service_name: str = "review"
    database_url: str = f"postgresql+asyncpg://microcred:{LOCAL_DATABASE_PASSWORD}@127.0.0.1:15400/review"
    http_port: int = 15412
    # Assignments are due this many working days (Monday to Friday) after they are made.
    review_due_business_days: int = Field(default=14, ge=1)
    # A resubmission never goes to a reviewer who scored an earlier attempt of the same submission.
    fresh_eyes_on_resubmission: bool = True
    overdue_sweep_interval_seconds: float = Field(default=300.0, gt=0)
