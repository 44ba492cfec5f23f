"""Duration and basic metadata of stored video, read with PyAV (FFmpeg's libraries, bundled in its wheels).

The probe never downloads the whole object: PyAV reads through a seekable file object whose reads are
HTTP range requests against the store, in blocks with a small cache. An object verification has just
read whole (a short clip) is given to the probe as bytes, and the same reader serves the blocks from
memory, under the same budget: no request reaches the store. Demuxing the container header is
enough for duration, size and codecs; an MP4 whose index sits at the end costs a seek there and back.
Nothing is decoded. A file FFmpeg cannot open is reported as None (unreadable), never as an error.

FFmpeg parses untrusted bytes here: the probe runs in a worker thread of the service, reads at most
``max_read_bytes`` from the store and gives up after that. A deployment that wants more isolation runs
the service with a seccomp profile or moves probing to a sandboxed worker; the interface stays.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction

import av

from microcred.submission.domain.model import MediaInfo

log = logging.getLogger(__name__)

BLOCK_BYTES = 512 * 1024
CACHED_BLOCKS = 16

ReadRange = Callable[[str, int, int], bytes]


class ProbeBudgetExceeded(Exception):
    """Reading the container's index would take more of the object than a probe may read."""


class RangeReader(io.RawIOBase):
    """A read-only, seekable file over one stored object, reading it by ranges on demand."""

    def __init__(self, read_range: ReadRange, object_key: str, size: int, *, max_read_bytes: int) -> None:
        super().__init__()
        self._read_range = read_range
        self._key = object_key
        self._size = size
        self._position = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._max_read_bytes = max_read_bytes
        self.bytes_fetched = 0
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self._size + offset
        else:
            raise ValueError(f"unsupported whence {whence}")
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        written = 0
        while written < len(view) and self._position < self._size:
            index, within = divmod(self._position, BLOCK_BYTES)
            block = self._block(index)
            chunk = block[within : within + len(view) - written]
            if not chunk:
                break
            view[written : written + len(chunk)] = chunk
            written += len(chunk)
            self._position += len(chunk)
        return written

    def _block(self, index: int) -> bytes:
        cached = self._blocks.get(index)
        if cached is not None:
            self._blocks.move_to_end(index)
            return cached
        start = index * BLOCK_BYTES
        length = min(BLOCK_BYTES, self._size - start)
        if self.bytes_fetched + length > self._max_read_bytes:
            raise ProbeBudgetExceeded(f"probing {self._key} would read more than {self._max_read_bytes} bytes")
        data = self._read_range(self._key, start, length)
        self.bytes_fetched += len(data)
        self.requests += 1
        self._blocks[index] = data
        if len(self._blocks) > CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        return data


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe_file(source: io.RawIOBase | str) -> MediaInfo | None:
    """Read the container's header; None when FFmpeg cannot make sense of it."""
    try:
        with av.open(source, mode="r") as container:
            video = next(iter(container.streams.video), None)
            audio = next(iter(container.streams.audio), None)
            duration = None
            if container.duration is not None:
                duration = container.duration / av.time_base
            elif video is not None:
                duration = _seconds(video.duration, video.time_base)
            if video is None:
                return None
            return MediaInfo(
                duration_seconds=round(duration, 3) if duration is not None else None,
                width=video.codec_context.width or None,
                height=video.codec_context.height or None,
                video_codec=video.codec_context.name,
                audio_codec=audio.codec_context.name if audio is not None else None,
                container=container.format.name,
            )
    # Only what says the bytes are not a readable video. A failing read from the object store is not
    # that: it propagates, the completion fails, and the evidence stays pending for another try
    # instead of being rejected (and its bytes deleted) over an outage.
    except (av.FFmpegError, ProbeBudgetExceeded, ValueError) as exc:
        log.info("media probe could not read the file", extra={"error": f"{type(exc).__name__}: {exc}"})
        return None


class PyAVMediaProbe:
    def __init__(self, read_range: ReadRange, *, max_read_bytes: int = 64 * 1024**2) -> None:
        self._read_range = read_range
        self._max_read_bytes = max_read_bytes

    async def probe(self, object_key: str, size: int, content: bytes | None = None) -> MediaInfo | None:
        return await asyncio.to_thread(self._probe_blocking, object_key, size, content)

    def _probe_blocking(self, object_key: str, size: int, content: bytes | None) -> MediaInfo | None:
        read_range = self._read_range if content is None else _in_memory(content)
        reader = RangeReader(read_range, object_key, size, max_read_bytes=self._max_read_bytes)
        info = probe_file(reader)
        log.info(
            "probed stored media",
            extra={"object_key": object_key, "size": size, "bytes_read": reader.bytes_fetched,
                   "range_requests": 0 if content is not None else reader.requests},
        )
        return info


def _in_memory(content: bytes) -> ReadRange:
    """Ranges of bytes already read, in place of range GETs."""
    view = memoryview(content)
    return lambda _key, offset, length: bytes(view[offset : offset + length])
