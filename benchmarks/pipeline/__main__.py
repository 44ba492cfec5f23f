"""``python benchmarks/pipeline`` (what ``make bench`` runs) or ``python -m pipeline`` with benchmarks/ on the path."""

import sys
from pathlib import Path

if not __package__:
    # Run as a folder, Python puts the folder itself first on the path; the package and its neighbours
    # (harness, replicas) are found from the folder above it.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from pipeline.cli import main

sys.exit(main())
