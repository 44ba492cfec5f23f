"""The object-store requests of completing an evidence item, counted on the real SeaweedFS.

Completing a small single PUT (sealing.seal, then sealing.remove_upload, as handlers.complete_evidence does)
is two requests: one GET of the upload (its size checked on the headers, then its sha256, sniffing, and the
bytes a short video is probed from), one PUT of exactly those bytes at the sealed key. A single PUT larger than
what is read whole on the event loop is three: HEAD the upload (its size and ETag), one CopyObject conditional on
that ETag, one streaming GET of the copy. Either way the upload is then queued for removal, and the uploads
queued go in one DeleteObjects request (one alone is a DELETE: counted here, where the queue is emptied as the
store closes). What neither sends, and
what these tests catch coming back: minio's own HEAD of the copy's source, a HEAD of the sealed object (the
PUT or the conditional copy gives its ETag), and the probe's range GETs of a video the verifying GET has
already read whole. A completed multipart upload is one GET, whose headers give the size and ETag: no HEAD,
and no body read when the size is not the declared one. Requests are counted where the service sends them:
its minio client's urllib3 pool, and the event loop's requests (adapters.s3_requests).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import pytest
from minio import Minio
from minio.error import S3Error
from urllib3 import HTTPResponse

from microcred.devstack.infra import EmbeddedStack, Endpoints, Ports
from microcred.devstack.samples import tiny_video
from microcred.submission.adapters.evidence_store import EvidenceStore
from microcred.submission.adapters.media_probe import PyAVMediaProbe
from microcred.submission.domain.model import Evidence, UploadFacts, UploadMode, evidence_object_key
from microcred.submission.service_layer import sealing
from microcred.submission.settings import SubmissionSettings

pytestmark = pytest.mark.stack

BUCKET = "evidence"
REFLECTION = b"# Reflection\n\nThe exit tickets showed that most students had it.\n"
# The whole of it, once each: the requests the service sends for one small single-PUT item, video or text, its
# upload's removal being a DELETE when it is the only one queued.
ONE_ITEM = Counter({"GET": 1, "PUT": 1, "DELETE": 1})
# A single PUT too large to be read whole on the event loop is copied inside the store, and the copy read.
ONE_COPIED_ITEM = Counter({"HEAD": 1, "PUT": 1, "GET": 1, "DELETE": 1})
# A completed multipart upload is sealed where it is: read once, nothing copied, nothing deleted.
ONE_MULTIPART_ITEM = Counter({"GET": 1})


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    with EmbeddedStack(tmp_path_factory.mktemp("sealing"), Ports.free(), buckets=[BUCKET]) as stack:
        yield stack.start()


@pytest.fixture(scope="module")
def video() -> bytes:
    return tiny_video()


@pytest.fixture
def browser(endpoints: Endpoints) -> Minio:
    """Stands in for the browser's PUT to its presigned URL (the service never uploads evidence)."""
    return Minio(endpoints.s3_endpoint.split("://", 1)[1], access_key=endpoints.s3_access_key,
                 secret_key=endpoints.s3_secret_key, secure=False, region="us-east-1")


class CountedStore:
    """The service's store and probe, built as bootstrap builds them, with the store's requests counted."""

    def __init__(self, endpoints: Endpoints, **settings: Any) -> None:
        config = SubmissionSettings(s3_endpoint=endpoints.s3_endpoint, s3_access_key=endpoints.s3_access_key,
                                    s3_secret_key=endpoints.s3_secret_key, s3_bucket=BUCKET, **settings)
        self.store = EvidenceStore(config)
        self.probe = PyAVMediaProbe(self.store.read_range, max_read_bytes=config.probe_max_read_bytes)
        self.sent: Counter[str] = Counter()
        self.sent_on_loop: Counter[str] = Counter()
        # Every answer whose body the service could read, to tell how much of it it did read.
        self.answers: list[Any] = []
        pool = self.store._client._http
        urlopen = pool.urlopen

        def counted(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            self.sent[method] += 1
            answer = urlopen(method, url, *args, **kwargs)
            self.answers.append(answer)
            return answer

        pool.urlopen = counted  # type: ignore[method-assign]
        requests = self.store._requests
        send = requests.send

        async def counted_on_the_loop(method: str, object_key: str, headers: Any = None, body: Any = None) -> Any:
            self.sent[method] += 1
            self.sent_on_loop[method] += 1
            return await send(method, object_key, headers, body)

        requests.send = counted_on_the_loop  # type: ignore[method-assign]
        open_ = requests.open

        @asynccontextmanager
        async def opened_on_the_loop(method: str, object_key: str, headers: Any = None) -> AsyncIterator[Any]:
            self.sent[method] += 1
            self.sent_on_loop[method] += 1
            async with open_(method, object_key, headers) as answer:
                self.answers.append(answer)
                yield answer

        requests.open = opened_on_the_loop  # type: ignore[method-assign]

    def complete(self, submission_id: UUID, evidence: Evidence) -> UploadFacts:
        async def run() -> UploadFacts:
            facts = await sealing.seal(self.store, self.probe, submission_id, evidence)
            # As complete_evidence once the sealed bytes are verified: an upload sealed in place is the item's
            # bytes, and one refused is deleted with the rest of the item by the rejection (not counted here).
            if facts.sealed_key not in (None, evidence.object_key):
                sealing.remove_upload(self.store, evidence)
            await self.store.close()
            return facts

        self.sent.clear()
        self.sent_on_loop.clear()
        self.answers.clear()
        return asyncio.run(run())

    def body_bytes_read(self) -> int:
        """What the service took of the answers' bodies: aiohttp's count of what reached its stream, urllib3's
        of what was read from the socket."""
        return sum(a.content.total_bytes if hasattr(a, "content") and hasattr(a.content, "total_bytes")
                   else a.tell() for a in self.answers)


def uploaded(browser: Minio, content: bytes, content_type: str, filename: str) -> tuple[UUID, Evidence]:
    submission_id, evidence_id = uuid4(), uuid4()
    key = evidence_object_key(submission_id, evidence_id, filename)
    browser.put_object(BUCKET, key, io.BytesIO(content), len(content), content_type=content_type)
    return submission_id, Evidence(
        evidence_id=evidence_id, requirement_key="item", filename=filename, content_type=content_type,
        size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(), object_key=key,
    )


def uploaded_in_parts(browser: Minio, content: bytes, declared: bytes, filename: str) -> tuple[UUID, Evidence]:
    """An item declared as ``declared`` whose completed multipart upload holds ``content``."""
    submission_id, evidence = uploaded(browser, content, "video/mp4", filename)
    return submission_id, Evidence(
        evidence_id=evidence.evidence_id, requirement_key="item", filename=filename, content_type="video/mp4",
        size_bytes=len(declared), sha256=hashlib.sha256(declared).hexdigest(), object_key=evidence.object_key,
        upload_mode=UploadMode.MULTIPART, upload_id="completed", part_count=1,
    )


def sealed_as_stored(browser: Minio, facts: UploadFacts, content: bytes, content_type: str | None = None) -> None:
    """The sealed object holds the bytes, and its ETag is the one submit will compare against a HEAD of it."""
    assert facts.sealed_key is not None
    stat = browser.stat_object(BUCKET, facts.sealed_key)
    assert (stat.size, stat.etag) == (facts.size, facts.etag) == (len(content), facts.etag)
    assert browser.get_object(BUCKET, facts.sealed_key).data == content
    if content_type is not None:
        assert stat.content_type == content_type, "the sealed object lost the Content-Type the upload was stored with"


def test_completing_a_short_video_is_one_get_one_put_and_one_delete(
    endpoints: Endpoints, browser: Minio, video: bytes
) -> None:
    counted = CountedStore(endpoints)
    submission_id, evidence = uploaded(browser, video, "video/mp4", "lesson.mp4")
    facts = counted.complete(submission_id, evidence)
    assert counted.sent == ONE_ITEM, f"sent {dict(counted.sent)}: a HEAD or a copy came back, or the probe read the store"
    assert facts.sha256 == evidence.sha256 and facts.sniffed_content_type == "video/mp4"
    assert facts.media is not None and facts.media.duration_seconds == pytest.approx(1.0, abs=0.1)
    sealed_as_stored(browser, facts, video, "video/mp4")


def test_completing_a_text_item_is_one_get_one_put_and_one_delete(endpoints: Endpoints, browser: Minio) -> None:
    counted = CountedStore(endpoints)
    submission_id, evidence = uploaded(browser, REFLECTION, "text/markdown", "reflection.md")
    facts = counted.complete(submission_id, evidence)
    assert counted.sent == ONE_ITEM, f"sent {dict(counted.sent)}: a HEAD or a copy came back"
    # Small enough to be read on the event loop: no request left from a worker thread.
    assert counted.sent_on_loop == ONE_ITEM
    assert facts.sha256 == evidence.sha256 and facts.media is None
    sealed_as_stored(browser, facts, REFLECTION, "text/markdown")


def test_a_small_upload_replaced_just_after_it_was_read_is_sealed_as_read(endpoints: Endpoints, browser: Minio) -> None:
    """What is sealed is the bytes the service hashed, not whatever the still-valid upload URL holds by the time
    the sealed object is made (same size, other bytes: an MD5 twin would pass a copy conditional on the ETag)."""
    counted = CountedStore(endpoints)
    submission_id, evidence = uploaded(browser, REFLECTION, "text/markdown", "reflection.md")
    read_if_size = counted.store.read_if_size

    async def replaced_after_reading(object_key: str, size: int) -> Any:
        reading = await read_if_size(object_key, size)
        replacement = REFLECTION.upper()
        await asyncio.to_thread(browser.put_object, BUCKET, object_key, io.BytesIO(replacement), len(replacement))
        return reading

    counted.store.read_if_size = replaced_after_reading  # type: ignore[method-assign]
    facts = counted.complete(submission_id, evidence)
    assert facts.sha256 == evidence.sha256
    sealed_as_stored(browser, facts, REFLECTION)


def test_a_single_put_larger_than_what_is_read_on_the_loop_is_copied_and_the_copy_read(
    endpoints: Endpoints, browser: Minio
) -> None:
    counted = CountedStore(endpoints, inspect_on_loop_max_bytes=len(REFLECTION) - 1)
    submission_id, evidence = uploaded(browser, REFLECTION, "text/markdown", "reflection.md")
    facts = counted.complete(submission_id, evidence)
    assert counted.sent == ONE_COPIED_ITEM, f"sent {dict(counted.sent)}"
    assert facts.sha256 == evidence.sha256 and facts.sealed_key != evidence.object_key
    sealed_as_stored(browser, facts, REFLECTION, "text/markdown")


@pytest.mark.parametrize("keep", [0, 1024])
def test_an_empty_item_is_sealed_whatever_is_kept(endpoints: Endpoints, browser: Minio, keep: int) -> None:
    """Nothing kept (inspect_keep_max_bytes 0) means no bytes to write back, even for an empty file: it is copied."""
    counted = CountedStore(endpoints, inspect_keep_max_bytes=keep)
    submission_id, evidence = uploaded(browser, b"", "text/plain", "empty.txt")
    facts = counted.complete(submission_id, evidence)
    assert counted.sent == (ONE_ITEM if keep else ONE_COPIED_ITEM), f"sent {dict(counted.sent)}"
    assert facts.sha256 == hashlib.sha256(b"").hexdigest()
    sealed_as_stored(browser, facts, b"", "text/plain")


def test_a_video_larger_than_what_is_kept_is_probed_by_range_reads_with_the_same_result(
    endpoints: Endpoints, browser: Minio, video: bytes
) -> None:
    counted = CountedStore(endpoints, inspect_keep_max_bytes=len(video) - 1)
    submission_id, evidence = uploaded(browser, video, "video/mp4", "lesson.mp4")
    facts = counted.complete(submission_id, evidence)
    ranges = counted.sent["GET"] - 1
    assert ranges >= 1 and counted.sent == ONE_COPIED_ITEM + Counter({"GET": ranges})
    in_memory = CountedStore(endpoints).complete(*uploaded(browser, video, "video/mp4", "lesson.mp4"))
    assert facts.media == in_memory.media and facts.media is not None


def test_a_copy_is_refused_when_the_upload_changed_or_is_gone_and_a_copy_gone_reads_as_none(
    endpoints: Endpoints, browser: Minio
) -> None:
    counted = CountedStore(endpoints)
    _, evidence = uploaded(browser, REFLECTION, "text/markdown", "reflection.md")
    etag = browser.stat_object(BUCKET, evidence.object_key).etag
    assert etag is not None
    browser.put_object(BUCKET, evidence.object_key, io.BytesIO(b"replaced"), len(b"replaced"))
    store = counted.store

    async def run() -> tuple[Any, ...]:
        try:
            return (await store.copy(evidence.object_key, f"{evidence.object_key}.copy", if_etag=etag),
                    await store.copy(f"{evidence.object_key}.none", f"{evidence.object_key}.copy"),
                    await store.inspect(f"{evidence.object_key}.copy"),
                    await store.inspect(f"{evidence.object_key}.copy", len(REFLECTION)))
        finally:
            await store.close()

    assert asyncio.run(run()) == (None, None, None, None)


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_an_object_read_on_the_event_loop_or_in_a_thread_gives_the_same_facts_of_the_stored_bytes(
    endpoints: Endpoints, browser: Minio, video: bytes, encoding: str | None
) -> None:
    """Up to inspect_on_loop_max_bytes an object is read on the loop, above it by minio in a thread; the two
    must agree, on the bytes as stored even when the uploader's PUT declared a Content-Encoding (a hash of
    what a decoder made of them would let the stored bytes differ from the sha256 the item is sealed with)."""
    looped, threaded = CountedStore(endpoints), CountedStore(endpoints, inspect_on_loop_max_bytes=0)
    headers = {} if encoding is None else {"Content-Encoding": encoding}
    items = {"text": REFLECTION, "video": video, "binary": bytes(range(256)) * 64,
             "gzipped": gzip.compress(REFLECTION * 50)}
    for name, content in items.items():
        key = f"uploads/{uuid4()}/{name}"
        browser.put_object(BUCKET, key, io.BytesIO(content), len(content), metadata=headers)  # type: ignore[arg-type]

        async def run(counted: CountedStore, key: str = key, size: int = len(content)) -> Any:
            try:
                inspection = await counted.store.inspect(key, size)
                # The size a multipart upload is checked on is the stored one too, from the same headers.
                reading = await counted.store.read_if_size(key, size)
                assert reading is not None and (reading.size, reading.inspection) == (size, inspection)
                return inspection
            finally:
                await counted.store.close()

        on_loop, in_thread = asyncio.run(run(looped)), asyncio.run(run(threaded))
        assert on_loop == in_thread, name
        assert on_loop.sha256 == hashlib.sha256(content).hexdigest() and on_loop.content == content, name
        assert on_loop.text is (name == "text"), name
    assert looped.sent_on_loop["GET"] == 2 * len(items) and threaded.sent_on_loop["GET"] == 0


def test_the_event_loops_requests_name_any_key_as_minio_signs_it(endpoints: Endpoints, browser: Minio) -> None:
    """A key that needs quoting (a space, a plus, a percent sign, non-ASCII) reaches the store under the signature
    minio made for it: a path sent quoted otherwise than it was signed is refused (403), and stat would raise."""
    store = CountedStore(endpoints).store
    key = f"uploads/{uuid4()}/lesson plan +1 100% é.md"
    browser.put_object(BUCKET, key, io.BytesIO(REFLECTION), len(REFLECTION))

    async def run() -> tuple[Any, ...]:
        try:
            found = await store.stat(key)
            etag = await store.copy(key, f"{key}.copy")
            await store.remove(key)
            return found, etag, await store.stat(key), await store.stat(f"{key}.copy")
        finally:
            await store.close()

    found, etag, gone, copied = asyncio.run(run())
    assert found is not None and found.size == len(REFLECTION) and etag == found.etag
    assert gone is None and copied is not None and copied.etag == etag


@pytest.mark.parametrize("read_on", ["loop", "thread"])
def test_completing_a_multipart_upload_is_one_get_whose_headers_give_its_size_and_etag(
    endpoints: Endpoints, browser: Minio, video: bytes, read_on: str
) -> None:
    counted = CountedStore(endpoints, inspect_on_loop_max_bytes=len(video) if read_on == "loop" else 0)
    submission_id, evidence = uploaded_in_parts(browser, video, video, "lesson.mp4")
    facts = counted.complete(submission_id, evidence)
    assert counted.sent == ONE_MULTIPART_ITEM, f"sent {dict(counted.sent)}: a HEAD came back"
    assert counted.sent_on_loop["GET"] == (read_on == "loop")
    assert facts.sealed_key == evidence.object_key and facts.sha256 == evidence.sha256
    assert facts.media is not None and facts.sniffed_content_type == "video/mp4"
    sealed_as_stored(browser, facts, video)


@pytest.mark.parametrize("read_on", ["loop", "thread"])
def test_an_upload_far_larger_than_declared_is_refused_on_its_headers_without_its_body_being_read(
    endpoints: Endpoints, browser: Minio, read_on: str
) -> None:
    """A URL meant for a small file may receive gigabytes: the GET that measures a multipart upload stops at
    the headers when the size is not the declared one, and closes the connection on the rest."""
    declared = REFLECTION * 300  # about 20 KB: read on the loop by default
    counted = CountedStore(endpoints, **({} if read_on == "loop" else {"inspect_on_loop_max_bytes": 0}))
    stored = bytes(32 * 1024**2)
    submission_id, evidence = uploaded_in_parts(browser, stored, declared, "lesson.mp4")
    facts = counted.complete(submission_id, evidence)
    assert (facts.size, facts.sha256, facts.sniffed_content_type) == (len(stored), "", None)
    assert counted.sent == ONE_MULTIPART_ITEM and counted.sent_on_loop["GET"] == (read_on == "loop")
    assert counted.body_bytes_read() < 1024**2, "the body of an upload of the wrong size was read"
    # The connection closed on the rest of the body is not reused: the store still answers the next request.
    async def stat_again() -> Any:
        try:
            return await counted.store.stat(evidence.object_key)
        finally:
            await counted.store.close()

    assert asyncio.run(stat_again()) is not None


def test_the_uploads_of_several_sealed_items_are_removed_in_one_request(
    endpoints: Endpoints, browser: Minio, video: bytes
) -> None:
    counted = CountedStore(endpoints)
    items = [uploaded(browser, REFLECTION, "text/markdown", f"reflection-{n}.md") for n in range(3)]
    items.append(uploaded(browser, video, "video/mp4", "lesson.mp4"))

    async def run() -> tuple[list[UploadFacts], int]:
        try:
            sealed = []
            for submission_id, evidence in items:
                sealed.append(await sealing.seal(counted.store, counted.probe, submission_id, evidence))
                sealing.remove_upload(counted.store, evidence)
            # What the service's timer does every few seconds (upload_removal_interval_seconds).
            return sealed, await counted.store.remove_queued()
        finally:
            await counted.store.close()

    sealed, removed = asyncio.run(run())
    assert removed == len(items)
    assert counted.sent == Counter({"GET": 4, "PUT": 4, "POST": 1}), f"sent {dict(counted.sent)}"
    for (_, evidence), facts in zip(items, sealed, strict=True):
        assert not list(browser.list_objects(BUCKET, prefix=evidence.object_key)), "an upload was left"
        sealed_as_stored(browser, facts, video if evidence.filename == "lesson.mp4" else REFLECTION)


def test_a_store_without_delete_objects_gets_a_delete_per_object_from_its_first_refusal_on(
    endpoints: Endpoints, browser: Minio
) -> None:
    """As Google Cloud Storage's XML API answers DeleteObjects: the objects are still deleted, one request each, and
    the service stops asking."""
    counted = CountedStore(endpoints)
    keys = [f"uploads/{uuid4()}/item-{n}.md" for n in range(4)]
    for key in keys:
        browser.put_object(BUCKET, key, io.BytesIO(REFLECTION), len(REFLECTION))
    refusals = []

    def refused(*args: Any, **kwargs: Any) -> Any:
        refusals.append(args)
        raise S3Error(HTTPResponse(status=501), "NotImplemented", "A header you provided implies functionality that "
                      "is not implemented", f"/{BUCKET}", None, None, BUCKET, None)

    counted.store._client._delete_objects = refused  # type: ignore[method-assign]

    async def run() -> None:
        try:
            await counted.store.remove_many(keys[:2])
            await counted.store.remove_many(keys[2:])
        finally:
            await counted.store.close()

    asyncio.run(run())
    assert len(refusals) == 1 and counted.sent == Counter({"DELETE": 4}), f"sent {dict(counted.sent)}"
    assert not [o for key in keys for o in browser.list_objects(BUCKET, prefix=key)]
