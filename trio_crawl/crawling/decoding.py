"""Response bodies collected under a byte limit, decoded (gzip, deflate) as they stream.

A decoder that inflates a whole network chunk at once lets 64 KiB of a gzip bomb become 64 MiB
before any size check sees it. Here every layer is inflated with zlib's `max_length`, at most
`STEP` bytes per call, and each layer's running total is checked after every call, so a body
never holds more than `limit` bytes (plus one step) whatever the compression ratio. The raw
bytes on the wire count against the same limit, so a stream of empty gzip members cannot keep
the decoder busy either.

What can go wrong (always a `StageError`)::

    more than `limit` bytes, on the wire or after any layer   client_error "response too large"
    a content-encoding other than gzip/x-gzip/deflate/identity  client_error (retrying can't help)
    more than MAX_CODINGS compressed layers                     client_error
    a corrupt or cut-short compressed stream                    network_error (like a cut body)
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from trio_crawl.engine.results import ErrorKind, StageError

STEP = 64 * 1024
"""The most one zlib call may produce."""

MAX_CODINGS = 3
"""The most compressed layers a body may have (``gzip, gzip, gzip``); each costs a zlib state."""

_ALIASES = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
_GZIP_MAGIC = b"\x1f\x8b"


def too_large(limit: int) -> StageError:
    """The error for a body over `limit` bytes."""
    return StageError(ErrorKind.client_error, f"response too large: > {limit} bytes")


def content_codings(header: str | None) -> tuple[str, ...]:
    """The compressed layers a Content-Encoding header names, in the order they were applied
    (``identity`` dropped, ``x-gzip`` read as ``gzip``); raise `StageError` for anything else."""
    if not header:
        return ()
    codings: list[str] = []
    for name in header.split(","):
        name = name.strip().lower()
        if not name or name == "identity":
            continue
        coding = _ALIASES.get(name)
        if coding is None:
            raise StageError(
                ErrorKind.client_error,
                f"unsupported content-encoding {name!r} (only gzip and deflate are decoded)",
            )
        codings.append(coding)
    if len(codings) > MAX_CODINGS:
        raise StageError(
            ErrorKind.client_error,
            f"too many content-encodings: {len(codings)} layers (at most {MAX_CODINGS})",
        )
    return tuple(codings)


class _Inflater:
    """One gzip or deflate layer, inflating at most `STEP` bytes per zlib call.

    gzip bodies may hold several members (they are concatenated, as gzip(1) does); bytes after
    the last member that do not start another are ignored, as gzip(1) and httpx do. ``deflate``
    is meant to be zlib-wrapped, but some servers send raw deflate: the first two bytes tell.
    """

    __slots__ = ("_coding", "_head", "_ignore_rest", "_limit", "_total", "_zlib")

    def __init__(self, coding: str, limit: int) -> None:
        self._coding = coding
        self._limit = limit
        self._total = 0
        self._head = b""  # deflate: bytes kept until the first two decide zlib or raw
        self._ignore_rest = False
        self._zlib: zlib._Decompress | None = None  # built when the first bytes arrive

    def pipe(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            yield from self.inflate(chunk)

    def inflate(self, data: bytes) -> Iterator[bytes]:
        if self._ignore_rest:
            return
        if self._zlib is None:
            if not data:
                return
            if self._coding == "gzip":
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                self._head += data
                if len(self._head) < 2:
                    return
                data, self._head = self._head, b""
                wbits = zlib.MAX_WBITS if _is_zlib(data) else -zlib.MAX_WBITS
                self._zlib = zlib.decompressobj(wbits)
        stream = self._zlib
        while True:
            try:
                piece = stream.decompress(data, STEP)
            except zlib.error as exc:
                raise self._corrupt(str(exc)) from exc
            if piece:
                self._total += len(piece)
                if self._total > self._limit:
                    raise too_large(self._limit)
                yield piece
            if stream.eof:
                data = stream.unused_data
                if not data:
                    return
                if self._coding != "gzip" or not _GZIP_MAGIC.startswith(data[:2]):
                    self._ignore_rest = True
                    return
                stream = self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                continue
            data = stream.unconsumed_tail
            # A full step may leave output inside zlib even with no input left: ask again.
            if not data and len(piece) < STEP:
                return

    def finish(self) -> None:
        """Raise unless the compressed stream ended properly."""
        if self._ignore_rest:
            return
        if self._zlib is None:
            if self._head:
                raise self._corrupt("incomplete stream")
            return  # an empty body: nothing was compressed
        if not self._zlib.eof:
            raise self._corrupt("the body ends before its compressed stream does")

    def _corrupt(self, detail: str) -> StageError:
        return StageError(
            ErrorKind.network_error, f"could not decode the {self._coding} body: {detail}"
        )


def _is_zlib(head: bytes) -> bool:
    """Whether two bytes make a zlib header (RFC 1950: method 8, check bits)."""
    return head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


class BoundedBody:
    """Collects a response body, decoding its content codings, and refuses it past `limit`.

    ``feed`` each raw chunk as it arrives, then ``finish``; either raises `StageError`. On
    error the collected bytes are dropped at once, so an error kept in a summary does not keep
    a body alive through its traceback.
    """

    __slots__ = ("_chunks", "_layers", "_limit", "_raw", "_size")

    def __init__(self, limit: int, codings: tuple[str, ...] = ()) -> None:
        self._limit = limit
        self._raw = 0
        self._size = 0
        self._chunks: list[bytes] = []
        # The last coding applied is the first to undo.
        self._layers = [_Inflater(coding, limit) for coding in reversed(codings)]

    def feed(self, raw: bytes) -> None:
        self._raw += len(raw)
        if self._raw > self._limit:
            self._fail(too_large(self._limit))
        if not self._layers:
            self._chunks.append(raw)
            return
        try:
            pieces: Iterable[bytes] = self._layers[0].inflate(raw)
            for layer in self._layers[1:]:
                pieces = layer.pipe(pieces)
            for piece in pieces:
                self._size += len(piece)
                if self._size > self._limit:
                    raise too_large(self._limit)
                self._chunks.append(piece)
        except StageError as exc:
            self._fail(exc)

    def finish(self) -> bytes:
        """The decoded body; raise if a compressed stream was cut short."""
        try:
            for layer in self._layers:
                layer.finish()
        except StageError as exc:
            self._fail(exc)
        body = b"".join(self._chunks)
        self._chunks = []
        return body

    def _fail(self, error: StageError) -> None:
        self._chunks = []
        self._layers = []
        raise error
