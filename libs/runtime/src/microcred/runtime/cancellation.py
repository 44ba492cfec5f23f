"""Loops that retry on errors must still stop when their task is cancelled.

A cancellation that lands inside a database call can surface as another error: the cleanup it interrupted (a
rollback on a connection the database dropped, a pool returning a broken connection) fails in turn, and its
exception replaces the ``CancelledError``. A retry loop that catches ``Exception`` then takes the stop request
for one more failure and goes on, and nothing asks it to stop again: a shutting-down service hangs.
"""

from __future__ import annotations

import asyncio


def stop_if_cancelled(error: BaseException) -> None:
    """Raise ``CancelledError`` (from ``error``) when the current task has been asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error
