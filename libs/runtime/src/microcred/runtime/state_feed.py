"""A state agency's reader of its own feed, ``licensure.state.<XX>``: one JSON record per line on stdout.

What an agency can run as it is, or read as the example of a consumer of its own (ADR 0003). It connects
as the agency's principal with the same ``MICROCRED_KAFKA_*`` settings (or flags) as every client of the
platform: on a secured cluster SASL_SSL with the agency's SCRAM user (``state-<xx>``, allowed to read its
own topic and its own consumer groups, prefix ``state-<xx>.``) and the cluster's CA; the password only
from ``MICROCRED_KAFKA_SASL_PASSWORD``.

Each record's value (``licensure.state-record``) is written as one line, and the group's offset is
committed once the lines are flushed: delivery is at least once, a restart goes on after the last line
written, and a reader deduplicates on ``event_id``.

    python -m microcred.runtime.state_feed TN                      # follow TN's feed (group state-tn.feed)
    python -m microcred.runtime.state_feed TN --idle-exit 10 > tn.jsonl    # what is waiting, then stop
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from typing import TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition

from microcred.events import state_feed_topic
from microcred.runtime.kafka_clients import add_connection_arguments, kafka_client_options, settings_from_arguments
from microcred.runtime.settings import KafkaSettings

_STATE = re.compile(r"^[A-Z]{2}$")


def default_group(state: str) -> str:
    """The agency's consumer group: under the ``state-<xx>.`` prefix its principal may use."""
    return f"state-{state.lower()}.feed"


async def read_feed(
    settings: KafkaSettings,
    state: str,
    out: TextIO,
    *,
    group: str | None = None,
    max_records: int | None = None,
    idle_exit_seconds: float | None = None,
) -> int:
    """Writes the state's records not yet committed by ``group``; returns how many were written.

    Runs until ``max_records`` were written or nothing arrived for ``idle_exit_seconds`` (for ever if
    neither is given). A group that never committed starts at the beginning of the topic.
    """
    consumer = AIOKafkaConsumer(
        state_feed_topic(state), **kafka_client_options(settings), group_id=group or default_group(state),
        enable_auto_commit=False, auto_offset_reset="earliest",
    )
    await consumer.start()
    written = 0
    try:
        loop = asyncio.get_running_loop()
        last_record = loop.time()
        while max_records is None or written < max_records:
            limit = None if max_records is None else max_records - written
            batches = await consumer.getmany(timeout_ms=500, max_records=limit)
            if not batches:
                if idle_exit_seconds is not None and loop.time() - last_record >= idle_exit_seconds:
                    break
                continue
            last_record = loop.time()
            ends: dict[TopicPartition, int] = {}
            for tp, records in batches.items():
                for record in records:
                    out.write((record.value or b"").decode(errors="replace") + "\n")
                    ends[tp] = record.offset + 1
                    written += 1
            # Committed only after the lines are out: a crash between the two repeats them, never loses them.
            out.flush()
            await consumer.commit(ends)
    finally:
        await consumer.stop()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m microcred.runtime.state_feed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("state", type=str.upper, help="two-letter state code, e.g. TN")
    parser.add_argument("--group", help="consumer group (default state-<xx>.feed)")
    parser.add_argument("--max-records", type=int, help="stop after this many records")
    parser.add_argument("--idle-exit", type=float, metavar="SECONDS",
                        help="stop once no record arrived for this long (default: follow for ever)")
    add_connection_arguments(parser)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    if not _STATE.fullmatch(args.state):
        print(f"not a two-letter state code: {args.state!r}", file=sys.stderr)
        return 2
    settings = settings_from_arguments(args)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends a follow; what was written is committed
        asyncio.run(read_feed(settings, args.state, out or sys.stdout, group=args.group, max_records=args.max_records,
                              idle_exit_seconds=args.idle_exit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
