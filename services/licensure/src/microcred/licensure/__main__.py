from microcred.licensure.bootstrap import build_app, provision
from microcred.licensure.settings import LicensureSettings
from microcred.runtime.cli import run_service

if __name__ == "__main__":
    run_service(LicensureSettings, build_app, "microcred.licensure:migrations", after_migrate=provision)
