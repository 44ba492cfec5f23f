from microcred.review.bootstrap import build_app
from microcred.review.settings import ReviewSettings
from microcred.runtime.cli import run_service

if __name__ == "__main__":
    run_service(ReviewSettings, build_app, "microcred.review:migrations")
