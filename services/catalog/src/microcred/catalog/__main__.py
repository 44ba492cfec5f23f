from microcred.catalog.bootstrap import build_app
from microcred.catalog.settings import CatalogSettings
from microcred.runtime.cli import run_service

if __name__ == "__main__":
    run_service(CatalogSettings, build_app, "microcred.catalog:migrations")
