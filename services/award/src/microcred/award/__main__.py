from microcred.award.bootstrap import build_app
from microcred.award.settings import AwardSettings
from microcred.runtime.cli import run_service

if __name__ == "__main__":
    run_service(AwardSettings, build_app, "microcred.award:migrations")
