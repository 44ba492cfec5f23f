from microcred.runtime.cli import run_service
from microcred.submission.bootstrap import build_app
from microcred.submission.settings import SubmissionSettings

if __name__ == "__main__":
    run_service(SubmissionSettings, build_app, "microcred.submission:migrations")
