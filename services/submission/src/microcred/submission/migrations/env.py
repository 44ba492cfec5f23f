from microcred.runtime.migrations import run_env
from microcred.submission.adapters.orm import Base

run_env(Base.metadata)
