"""Dead letters: list a dead-letter topic with the reasons, and replay chosen records to their topic.

A consumer dead-letters a message it could never handle (``runtime.consumer``): the record goes to
``<topic>.dlt`` unchanged, with headers saying why (``dlt-reason``, ``dlt-reason-kind``: ``poison`` for a
message no code can read, ``handler-error`` for one the handler kept failing on), where it came from
(``dlt-original-topic``, ``-partition``, ``-offset``), which service gave up (``dlt-consumer``) and when
(``dlt-failed-at``).

Once the cause is fixed (a release that handles it, data put right), a replay publishes the record's
original value, key and headers to its original topic again, with ``dlt-replayed-from`` naming the dead
letter. Every consumer group of that topic receives it; the ones that had handled the event find its id in
their inbox and do nothing, so a replay is safe, even a repeated one. The replayed event arrives after
the later events of its aggregate, as it would after any retry.

An operator runs it against the real cluster from any service's container, where the settings already
name the broker (``python -m microcred.runtime.dead_letters list``); ``microcred dead-letters`` is the
same command on a development machine. Connection settings come from the ``MICROCRED_KAFKA_*`` variables
(:class:`~microcred.runtime.settings.KafkaSettings`, as the services read them) or flags; the SASL password
only from the environment, never a flag.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from microcred.events import dead_letter_topic
from microcred.runtime.kafka_clients import add_connection_arguments, kafka_client_options, settings_from_arguments
from microcred.runtime.offsets import LogEnds
from microcred.runtime.settings import KafkaSettings

DLT_SUFFIX = dead_letter_topic("")
_DLT_HEADER_PREFIX = "dlt-"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def position(self) -> str:
        """``partition:offset``, how the command line names a dead letter."""
        return f"{self.partition}:{self.offset}"

    @property
    def original_topic(self) -> str:
        return self.headers.get("dlt-original-topic") or self.topic.removesuffix(DLT_SUFFIX)

    def envelope(self) -> dict[str, Any]:
        """The event's envelope fields from its value, when the value is a JSON object (poison may not be)."""
        try:
            value = json.loads(self.value)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def describe(self) -> dict[str, Any]:
        envelope = self.envelope()
        return {
            "position": self.position,
            "failed_at": self.headers.get("dlt-failed-at"),
            "consumer": self.headers.get("dlt-consumer"),
            "reason_kind": self.headers.get("dlt-reason-kind"),
            "reason": self.headers.get("dlt-reason"),
            "original": f"{self.original_topic}[{self.headers.get('dlt-original-partition', '?')}]"
                        f"@{self.headers.get('dlt-original-offset', '?')}",
            "event_type": self.headers.get("ce_type") or envelope.get("event_type"),
            "event_id": self.headers.get("ce_id") or envelope.get("event_id"),
            "key": self.key.decode(errors="replace") if self.key is not None else None,
        }


async def dead_letter_counts(settings: KafkaSettings) -> dict[str, int]:
    """Records in each dead-letter topic (from the first kept offset to the log's real end)."""
    async with LogEnds(**kafka_client_options(settings)) as log_ends:
        partitions = [tp for tp in await log_ends.partitions() if tp.topic.endswith(DLT_SUFFIX)]
        ends = await log_ends.read(partitions)
        starts = await log_ends.starts(partitions)
    counts: dict[str, int] = {}
    for tp, end in ends.items():
        counts[tp.topic] = counts.get(tp.topic, 0) + end - starts[tp]
    return dict(sorted(counts.items()))


async def read_dead_letters(settings: KafkaSettings, topic: str, timeout: float = 30.0) -> list[DeadLetter]:
    """Every record of the dead-letter topic ``topic``, oldest first in each partition."""
    async with LogEnds(**kafka_client_options(settings)) as log_ends:
        partitions = await log_ends.partitions([topic])
        if not partitions:
            raise LookupError(f"no topic {topic!r} on {settings.kafka_bootstrap_servers}")
        ends = await log_ends.read(partitions)
    consumer = AIOKafkaConsumer(**kafka_client_options(settings), enable_auto_commit=False)
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = asyncio.get_running_loop().time() + timeout
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"could not read {topic} to its end within {timeout:.0f}s")
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(
                    DeadLetter(record.topic, record.partition, record.offset, record.key, record.value or b"",
                               {k: v.decode(errors="replace") for k, v in record.headers or ()})
                    for record in records if record.offset < ends[TopicPartition(record.topic, record.partition)]
                )
    finally:
        await consumer.stop()
    return sorted(found, key=lambda letter: (letter.partition, letter.offset))


async def replay(settings: KafkaSettings, letters: Iterable[DeadLetter]) -> list[tuple[DeadLetter, str]]:
    """Publishes each dead letter to its original topic (acks=all); each letter with where it landed."""
    producer = AIOKafkaProducer(**kafka_client_options(settings), acks="all")
    await producer.start()
    done: list[tuple[DeadLetter, str]] = []
    try:
        for letter in letters:
            headers = [(k, v.encode()) for k, v in letter.headers.items() if not k.startswith(_DLT_HEADER_PREFIX)]
            headers.append(("dlt-replayed-from", f"{letter.topic}:{letter.position}".encode()))
            sent = await producer.send_and_wait(letter.original_topic, letter.value, key=letter.key, headers=headers)
            done.append((letter, f"{sent.topic}[{sent.partition}]@{sent.offset}"))
    finally:
        await producer.stop()
    return done


# -- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``list`` and ``replay`` commands and the connection flags, on ``parser``."""
    add_connection_arguments(parser)
    commands = parser.add_subparsers(dest="dead_letters_command", required=True)
    listing = commands.add_parser("list", help="dead-letter topics with their counts, or one topic's records")
    listing.add_argument("topic", nargs="?", help="a dead-letter topic, e.g. review.scored.dlt")
    listing.add_argument("--consumer", help="only what this service dead-lettered")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    replaying = commands.add_parser("replay", help="publish dead letters to their original topic again")
    replaying.add_argument("topic", help="the dead-letter topic")
    chosen = replaying.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--offset", action="append", metavar="PARTITION:OFFSET",
                        help="a dead letter as listed (repeatable)")
    chosen.add_argument("--all", action="store_true", help="every dead letter of the topic (see --consumer)")
    replaying.add_argument("--consumer", help="only what this service dead-lettered")
    replaying.add_argument("--dry-run", action="store_true", help="say what would be replayed, send nothing")


def _dlt(topic: str) -> str:
    return topic if topic.endswith(DLT_SUFFIX) else dead_letter_topic(topic)


async def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    settings = settings_from_arguments(args)
    if args.dead_letters_command == "list" and args.topic is None:
        counts = await dead_letter_counts(settings)
        for topic, count in counts.items():
            if count or args.json:
                print(json.dumps({"topic": topic, "count": count}) if args.json else f"{count:6d}  {topic}", file=out)
        if not args.json and not any(counts.values()):
            print(f"no dead letters in {len(counts)} dead-letter topics", file=out)
        return 0
    topic = _dlt(args.topic)
    try:
        letters = [letter for letter in await read_dead_letters(settings, topic)
                   if args.consumer is None or letter.headers.get("dlt-consumer") == args.consumer]
    except LookupError as unknown:
        print(unknown, file=sys.stderr)
        return 2
    if args.dead_letters_command == "list":
        _print_letters(topic, letters, args.json, out)
        return 0
    if not args.all:
        wanted = set(args.offset)
        letters = [letter for letter in letters if letter.position in wanted]
        missing = wanted - {letter.position for letter in letters}
        if missing:
            print(f"not in {topic}{' for ' + args.consumer if args.consumer else ''}: {', '.join(sorted(missing))}",
                  file=sys.stderr)
            return 2
    if args.dry_run:
        for letter in letters:
            print(f"would replay {topic} {letter.position} to {letter.original_topic}", file=out)
        return 0
    for letter, landed in await replay(settings, letters):
        print(f"replayed {topic} {letter.position} to {landed}", file=out)
    print(f"{len(letters)} replayed at {datetime.now(UTC).isoformat(timespec='seconds')}", file=out)
    return 0


def _print_letters(topic: str, letters: Sequence[DeadLetter], as_json: bool, out: TextIO) -> None:
    if as_json:
        for letter in letters:
            print(json.dumps(letter.describe()), file=out)
        return
    print(f"{topic}: {len(letters)} dead letter{'s' if len(letters) != 1 else ''}", file=out)
    for letter in letters:
        d = letter.describe()
        print(f"  {d['position']:>8}  {d['failed_at'] or '?'}  {d['consumer'] or '?'}  {d['reason_kind'] or '?'}  "
              f"from {d['original']}  {d['event_type'] or ''} {d['event_id'] or ''}", file=out)
        print(f"            {d['reason']}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m microcred.runtime.dead_letters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
