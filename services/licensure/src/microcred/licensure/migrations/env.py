from microcred.licensure.adapters import webhook_tables  # noqa: F401  (its tables join Base.metadata)
from microcred.licensure.adapters.orm import Base
from microcred.runtime.migrations import run_env

run_env(Base.metadata)
