from microcred.licensure.adapters.orm import Base
from microcred.runtime.migrations import run_env

run_env(Base.metadata)
