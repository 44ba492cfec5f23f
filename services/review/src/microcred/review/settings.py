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
    # The promise to teachers: a decision within this many working days of the submit. Unlike an
    # assignment's deadline it does not restart when a review is reassigned (microcred_reviews_overdue).
    decision_promise_business_days: int = Field(default=14, ge=1)
    # The queue gauges are re-read from the database this often (never on scrape).
    gauge_refresh_interval_seconds: float = Field(default=15.0, gt=0)
    overdue_sweep_interval_seconds: float = Field(default=300.0, gt=0)
    # Calibration: the first this-many attempts of each credential version are scored by two reviewers.
    calibration_size: int = Field(default=50, ge=0)
    # After calibration, this share of attempts (picked by a hash of the review id) is double scored too.
    double_score_share: float = Field(default=0.10, ge=0.0, le=1.0)
    # Reliability over double-scored work: a reviewer with at least min_pairs_for_flag scored pairs whose
    # quadratic-weighted kappa is under min_kappa, or exact agreement under min_agreement, is flagged for
    # recalibration; with block_flagged_reviewers, flagged reviewers get no new work.
    min_kappa: float = Field(default=0.6, ge=-1.0, le=1.0)
    min_agreement: float = Field(default=0.8, ge=0.0, le=1.0)
    min_pairs_for_flag: int = Field(default=10, ge=1)
    block_flagged_reviewers: bool = False
