"""Sealing: putting an upload out of every URL's reach and measuring the bytes there (ADR 0005).

A small single PUT is read, and the very bytes read are written to a key no URL was issued for; a
larger one is copied there and the copy measured; a completed multipart upload is measured where it
is, since the store refuses its part URLs once it is completed. The use cases in ``handlers`` and the
sweeps in ``evidence_retention`` call these.

The requests per item (each GET's size checked on its headers before its body is read):
- a small single PUT (read whole on the event loop, ``EvidenceStorage.keeps_bytes_of``): GET, PUT of
  the sealed key; the upload is then deleted with others in one request, seconds later (``remove_upload``);
- a larger single PUT: HEAD, CopyObject, GET of the copy, and the upload deleted the same way;
- a completed multipart upload: one GET.
Why each is sound is in ``seal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from microcred.runtime.errors import Conflict
from microcred.submission.adapters.content_sniffing import sniff_content_type
from microcred.submission.domain.model import (
    Evidence,
    MediaInfo,
    UploadFacts,
    UploadMode,
    content_family,
    effective_content_type,
    missing_parts,
    verified_object_key,
    verified_prefix,
)
from microcred.submission.service_layer.storage import EvidenceStorage, Inspection, MediaProbe, Reading, StoredObject


def upload_gone(evidence: Evidence) -> Conflict:
    """The refusal for a multipart upload the store no longer has."""
    return Conflict(
        f"the multipart upload of evidence {evidence.evidence_id} no longer exists (expired or aborted); "
        "declare the item again",
        code="upload_gone",
    )


async def assemble(store: EvidenceStorage, evidence: Evidence) -> None:
    """Complete a multipart upload from the parts the store holds; refuse while any is missing."""
    assert evidence.upload_id is not None and evidence.part_count is not None
    parts = await store.list_parts(evidence.object_key, evidence.upload_id)
    if parts is None:
        # Gone: either an earlier complete assembled it (then the object is there) or it was aborted.
        if await store.stat(evidence.object_key) is not None:
            return
        raise upload_gone(evidence)
    wanted = [p for p in parts if p.part_number <= evidence.part_count]
    missing = missing_parts(evidence.part_count, (p.part_number for p in wanted))
    if missing:
        raise Conflict(
            f"{len(missing)} of {evidence.part_count} parts have not reached the store; upload them "
            "(POST .../parts for fresh URLs) and complete again",
            code="part_missing",
            details=missing,
        )
    await store.complete_multipart(evidence.object_key, evidence.upload_id, wanted)


async def remove_stored(store: EvidenceStorage, submission_id: UUID, evidence: Evidence) -> None:
    """Delete every byte the item may hold: its upload (or unfinished multipart upload) and every sealed
    copy, including one a crashed completion left behind; the objects in one request."""
    if evidence.upload_id is not None:
        await store.abort_multipart(evidence.object_key, evidence.upload_id)
    sealed = await store.list_objects(verified_prefix(submission_id, evidence.evidence_id))
    await store.remove_many([evidence.object_key, *(listed.object_key for listed in sealed)])


async def measure(
    store: EvidenceStorage, probe: MediaProbe, evidence: Evidence, key: str, stored: StoredObject
) -> UploadFacts:
    """Sha256, sniffed type and (for video) media facts of the object at ``key``, whose size and ETag
    ``stored`` already gives (a sealed copy's conditional copy)."""
    inspection = await store.inspect(key, stored.size)
    if inspection is None:
        # Only a concurrent rejection of the same item deletes it before its verdict.
        raise Conflict(
            f"evidence {evidence.evidence_id} changed while it was being verified; read it again",
            code="evidence_not_pending",
        )
    return await _facts(probe, evidence, key, stored, inspection)


async def _facts(
    probe: MediaProbe, evidence: Evidence, key: str, stored: StoredObject, inspection: Inspection
) -> UploadFacts:
    sniffed = sniff_content_type(inspection.head, inspection.text, evidence.content_type)
    media: MediaInfo | None = None
    probed = False
    if inspection.sha256 == evidence.sha256 and content_family(effective_content_type(evidence.content_type, sniffed)) == "video":
        media = await probe.probe(key, stored.size, inspection.content)
        probed = True
    return UploadFacts(
        size=stored.size, sha256=inspection.sha256, etag=stored.etag, sniffed_content_type=sniffed,
        media=media, media_probed=probed, sealed_key=key,
    )


@dataclass(frozen=True)
class _Sealed:
    """The sealed object's size and ETag, as the copy or the PUT that made it answered them."""

    size: int
    etag: str


async def seal(store: EvidenceStorage, probe: MediaProbe, submission_id: UUID, evidence: Evidence) -> UploadFacts:
    """Put the upload out of every URL's reach, then measure it there.

    A completed multipart upload already is: its key only ever had part URLs, and the store refuses
    a part once the upload is completed (NoSuchUpload: documented for S3, measured on SeaweedFS, part
    PUTs racing the completion included), so it is measured where it is. A single PUT's URL stays
    valid for minutes, so that upload is copied to a key no URL was issued for and the copy measured:
    nothing can slip in between hashing and copying. Copying is what a 2 GiB video is spared: about
    6 s on an idle SeaweedFS here, 8 to 22 s under load, against at most 16 MiB for a single PUT.

    A multipart upload is one GET: the size and ETag a HEAD would give come with its bytes, and the
    size is checked on the answer's headers before the body is read (a HEAD costs SeaweedFS about
    0.8 ms of CPU and this service 0.6 ms: benchmarks/object_store_costs.py).

    A small single PUT (the whole of it read on the event loop anyway) is read once, and the bytes
    read, hashed and sniffed are the bytes this service PUTs at the sealed key: what is sealed is
    what was measured, whatever the uploader PUTs meanwhile. Against the store's CopyObject that is
    one request fewer (no HEAD) and a cheaper one (measured on SeaweedFS with a 3.4 KB item: a PUT
    2.1-2.4 ms of its CPU, a copy 3.7-4.0 ms). The sealed object keeps the Content-Type the upload was stored
    with, as a copy would; the other headers an uploader may PUT (Content-Encoding, user metadata)
    are not carried over, since a download is served as an attachment of the verified bytes.

    A larger single PUT keeps its HEAD and copy: reading the upload and then copying it on that
    read's ETag would tie the sha256 to the sealed bytes only through the ETag, an MD5 of the bytes
    (on SeaweedFS and S3 alike), and two files with one MD5 are made in seconds; a teacher PUTting
    the twin between the read and the copy would seal bytes that were never hashed. Hashing the copy
    ties them by the sha256 itself.
    """
    if evidence.upload_mode is UploadMode.MULTIPART:
        return await _measure_in_place(store, probe, evidence)
    if store.keeps_bytes_of(evidence.size_bytes):
        return await _rewrite(store, probe, submission_id, evidence)
    upload = await store.stat(evidence.object_key)
    if upload is None:
        raise _upload_missing(evidence)
    if upload.size != evidence.size_bytes:
        return _refused_on_size(upload)
    # One CopyObject copies at most 5 GiB; a single PUT is capped far below (settings.single_upload_max_bytes).
    assert upload.size <= 5 * 1024**3
    sealed_key = verified_object_key(submission_id, evidence.evidence_id, uuid4(), evidence.filename)
    # Only the object whose size was just checked is copied: another one PUT in between is not.
    etag = await store.copy(evidence.object_key, sealed_key, if_etag=upload.etag)
    if etag is None:
        raise Conflict(
            f"the upload of evidence {evidence.evidence_id} changed while it was being completed; complete it again",
            code="upload_changed",
        )
    try:
        # A copy of exactly that ETag has the upload's size: no need to ask the store for it again.
        return await measure(store, probe, evidence, sealed_key, _Sealed(size=upload.size, etag=etag))
    except Exception:
        await store.remove(sealed_key)
        raise


async def _rewrite(store: EvidenceStorage, probe: MediaProbe, submission_id: UUID, evidence: Evidence) -> UploadFacts:
    upload = await _read_as_declared(store, evidence)
    if upload.inspection is None:
        return _refused_on_size(upload)
    content = upload.inspection.content
    # keeps_bytes_of promised them: an object read on the loop is read whole.
    assert content is not None and len(content) == upload.size
    sealed_key = verified_object_key(submission_id, evidence.evidence_id, uuid4(), evidence.filename)
    etag = await store.write(sealed_key, content, upload.content_type)
    try:
        return await _facts(probe, evidence, sealed_key, _Sealed(size=upload.size, etag=etag), upload.inspection)
    except Exception:
        await store.remove(sealed_key)
        raise


async def _measure_in_place(store: EvidenceStorage, probe: MediaProbe, evidence: Evidence) -> UploadFacts:
    upload = await _read_as_declared(store, evidence)
    if upload.inspection is None:
        return _refused_on_size(upload)
    return await _facts(probe, evidence, evidence.object_key, upload, upload.inspection)


async def _read_as_declared(store: EvidenceStorage, evidence: Evidence) -> Reading:
    """One GET of the upload, its bytes read only when it has the declared size."""
    upload = await store.read_if_size(evidence.object_key, evidence.size_bytes)
    if upload is None:
        raise _upload_missing(evidence)
    return upload


def _refused_on_size(upload: StoredObject) -> UploadFacts:
    # Copying and hashing a large file are the slow parts: both are skipped when the size already disagrees,
    # which is enough for the verdict to refuse it (size_mismatch).
    return UploadFacts(size=upload.size, sha256="", etag=upload.etag, sniffed_content_type=None)


def _upload_missing(evidence: Evidence) -> Conflict:
    return Conflict(
        f"nothing was uploaded for evidence {evidence.evidence_id} yet; PUT the file to its upload URL first",
        code="upload_missing",
    )


def remove_upload(store: EvidenceStorage, evidence: Evidence) -> None:
    """Once the item's sealed key is committed, its upload is garbage: it goes with the next batch of removals,
    and the sweep removes what no item needs, should that batch be lost or refused."""
    store.remove_soon(evidence.object_key)
