"""Counts a service's requests to the broker and its outgoing HTTP, for ``--counts`` runs only.

The benchmark puts this directory first on the services' ``PYTHONPATH`` with ``BENCH_COUNTS_DIR`` set, and
Python imports ``sitecustomize`` at start-up: nothing in the services changes, and without the variable (tests,
``make up``, any other run) this file is never on the path. ``bench_counting.py`` says what is counted and how.
"""

from __future__ import annotations

import os

if os.environ.get("BENCH_COUNTS_DIR"):
    from bench_counting import install

    install(os.environ["BENCH_COUNTS_DIR"])
