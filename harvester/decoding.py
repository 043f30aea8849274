"""fetcher step: decoding compressed bodies, one bounded piece at a time.

The HTTP transport reads raw bytes and feeds them to a :class:`Decoder`, which
undoes the response's Content-Encoding (gzip, deflate, br, zstd, up to three
stacked). `Decoder.decode(chunk)` is a generator: each decompress call is
asked for at most ``STEP`` bytes, and the next call is made only when the
consumer asks for the next piece, so however much one raw chunk would inflate
to, no more than one step of it is ever in memory at once, with or without a
size limit. The decoded total never exceeds ``max_size`` (:class:`BodyTooLarge`
is raised first), nor does any intermediate stream of stacked codings.

A body that ends early, or turns corrupt after some of it decoded, keeps
what decoded: `damage` says what went wrong, as browsers and Scrapy hand the
readable part on. A body that yields nothing before it turns out corrupt
raises :class:`DecodeError`.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Iterator
from typing import Any

STEP = 256 * 1024  # most output one decompress call may produce
BR_LIMIT = STEP // 2  # brotli's output limit is soft: it may return up to about twice as much
ZSTD_MAX_WINDOW_LOG = 23  # 8 MiB windows (RFC 9659: decoders may refuse larger ones)
MAX_STACKED = 3  # "gzip, deflate, gzip" is served in the wild; more is an attack
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_SALVAGE_STEP = 1024  # input fed at a time when a corrupt chunk is re-read for its readable part
_ALIASES = {"x-gzip": "gzip"}


def _module(*names: str) -> Any:
    """The first of `names` that imports, else None."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


brotli: Any = _module("brotli")
try:
    _d = brotli.Decompressor()
    _d.process(b"", output_buffer_limit=STEP)  # brotli >= 1.2 only
    _HAS_BR = _d.can_accept_more_data()
except (AttributeError, TypeError):
    _HAS_BR = False
zstd: Any = _module("compression.zstd", "backports.zstd")  # the standard library's from 3.14, else its backport

SUPPORTED: tuple[str, ...] = (
    ("gzip", "deflate") + (("br",) if _HAS_BR else ()) + (("zstd",) if zstd is not None else ())
)
ACCEPT_ENCODING: str = ", ".join(SUPPORTED)


class BodyTooLarge(Exception):
    """The decoded (or raw) body would exceed ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response body exceeds {limit} bytes")
        self.limit = limit


class UnsupportedEncoding(Exception):
    """Unknown content coding, or more than `MAX_STACKED` stacked codings."""


class DecodeError(ValueError):
    """The compressed body is corrupt or truncated."""


class _Zlib:
    """gzip (with concatenated members) or deflate (zlib-wrapped or raw)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._d: Any = zlib.decompressobj(_GZIP_WBITS) if name == "gzip" else None
        self._head = b""  # deflate: first bytes, held until the wrapper is known
        self._fed = False

    @property
    def complete(self) -> bool:
        return not self._fed or self._d is not None and self._d.eof

    def decode(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        if self._d is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._d = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        while True:
            if self._d.eof:
                # gzip: zero padding or a further member; deflate: trailing junk, ignored
                data = data.lstrip(b"\0") if self.name == "gzip" else b""
                if not data:
                    return
                self._d = zlib.decompressobj(_GZIP_WBITS)
            saved = self._d.copy() if len(data) > _SALVAGE_STEP else None
            try:
                out = self._d.decompress(data, STEP)
            except zlib.error as exc:
                if saved is None:
                    raise DecodeError(f"corrupt {self.name} body: {exc}") from None
                # The fault lies somewhere in this chunk: read it again in small steps from the
                # state before it, so what precedes the fault is handed on before the error.
                self._d = saved
                for start in range(0, len(data), _SALVAGE_STEP):
                    yield from self.decode(data[start : start + _SALVAGE_STEP])
                return
            if out:
                yield out
            if self._d.eof:
                data = self._d.unused_data
            else:  # a full step may leave output pending inside zlib: drain it
                data = self._d.unconsumed_tail
                if not data and len(out) < STEP:
                    return

    def finish(self) -> Iterator[bytes]:
        if self._d is None and self._head:  # too short to hold a zlib header
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            self._head, data = b"", self._head
            yield from self.decode(data)
        if self._d is not None:
            yield from self.decode(b"")


class _Brotli:
    name = "br"

    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._fed = False

    @property
    def complete(self) -> bool:
        return not self._fed or self._d.is_finished()

    def decode(self, data: bytes) -> Iterator[bytes]:
        self._fed = self._fed or bool(data)
        try:
            while not self._d.is_finished():  # bytes after the end are ignored
                out = self._d.process(data, output_buffer_limit=BR_LIMIT)
                data = b""  # after a full step, only empty input until it accepts more
                if out:
                    yield out
                elif self._d.can_accept_more_data():
                    return
                else:
                    raise DecodeError("corrupt br body: decoder stalled")
        except brotli.error as exc:
            raise DecodeError(f"corrupt br body: {exc}") from None

    def finish(self) -> Iterator[bytes]:
        if self._fed:
            yield from self.decode(b"")


class _Zstd:
    """zstd frames (concatenated, skippable ones too) with `max_length` steps, windows up to 8 MiB."""

    name = "zstd"

    def __init__(self) -> None:
        self._d = self._new()
        self._open = False  # inside a frame

    @staticmethod
    def _new() -> Any:
        return zstd.ZstdDecompressor(options={zstd.DecompressionParameter.window_log_max: ZSTD_MAX_WINDOW_LOG})

    @property
    def complete(self) -> bool:
        return not self._open

    def decode(self, data: bytes) -> Iterator[bytes]:
        while data or not self._d.needs_input:
            if self._d.eof:
                self._d = self._new()
            self._open = True
            try:
                out = self._d.decompress(data, STEP)
            except zstd.ZstdError as exc:
                raise DecodeError(f"corrupt zstd body: {exc}") from None
            data = b""
            if self._d.eof:
                self._open, data = False, self._d.unused_data
                if not data:
                    self._d = self._new()
            if out:
                yield out

    def finish(self) -> Iterator[bytes]:
        yield from self.decode(b"")


class Decoder:
    """Streaming Content-Encoding decoder: output in pieces of at most `STEP`, `max_size` in all."""

    def __init__(self, content_encoding: str | None, max_size: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [_ALIASES.get(c, c) for c in codings if c and c != "identity"]
        if len(codings) > MAX_STACKED:
            raise UnsupportedEncoding(f"too many stacked content codings: {content_encoding!r}")
        for coding in codings:
            if coding not in SUPPORTED:
                raise UnsupportedEncoding(f"unsupported content coding: {coding!r}")
        self.max_size = max_size
        self.size = 0  # decoded bytes handed out so far
        self.damage: str | None = None  # why the body ended early, when it did
        # codings are listed in the order applied; undo them last-listed first
        self._stages: list[Any] = [_make(c) for c in reversed(codings)]
        self._inner = [0] * len(self._stages)

    def decode(self, chunk: bytes) -> Iterator[bytes]:
        """The decoded pieces of one raw chunk, each made only when the previous one was taken."""
        if not chunk or self.damage is not None:
            return
        if not self._stages:  # no coding (most bodies): the chunk itself, counted
            self.size += len(chunk)
            if self.size > self.max_size:
                raise BodyTooLarge(self.max_size)
            yield chunk
        elif len(self._stages) == 1:  # one coding: `_kept(_through(...))` without its two extra generators
            try:
                for out in self._stages[0].decode(chunk):
                    self.size += len(out)
                    if self.size > self.max_size:
                        raise BodyTooLarge(self.max_size)
                    yield out
            except DecodeError as exc:
                if self.size == 0:
                    raise
                self.damage = f"{exc} (after {self.size} readable bytes)"
        else:
            yield from self._kept(self._through(0, chunk))

    def finish(self) -> Iterator[bytes]:
        """End of the raw stream: the last pieces. Sets `damage` if the body ended early."""
        if self.damage is None:
            yield from self._kept(self._finish())

    def _finish(self) -> Iterator[bytes]:
        for index, stage in enumerate(self._stages):
            for out in stage.finish():
                yield from self._through(index + 1, out)
            if not stage.complete:
                self.damage = f"truncated {stage.name} body: it ends before its end marker"
                return

    def _kept(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from pieces
        except DecodeError as exc:
            if self.size == 0:
                raise
            self.damage = f"{exc} (after {self.size} readable bytes)"

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            self.size += len(data)
            if self.size > self.max_size:
                raise BodyTooLarge(self.max_size)
            yield data
            return
        if index:  # an intermediate stream of stacked codings: capped too (a bomb of empty gzip members)
            self._inner[index] += len(data)
            if self._inner[index] > 2 * self.max_size + 1024 * 1024:
                raise BodyTooLarge(self.max_size)
        for out in self._stages[index].decode(data):
            yield from self._through(index + 1, out)

    def feed(self, chunk: bytes) -> bytes:
        """All of `decode(chunk)` at once (bounded by `max_size` only); DecodeError if damaged."""
        out = b"".join(self.decode(chunk))
        if self.damage:
            raise DecodeError(self.damage)
        return out

    def flush(self) -> bytes:
        """All of `finish()` at once; DecodeError if the body was truncated or corrupt."""
        out = b"".join(self.finish())
        if self.damage:
            raise DecodeError(self.damage)
        return out


def _make(coding: str) -> Any:
    if coding in ("gzip", "deflate"):
        return _Zlib(coding)
    return _Brotli() if coding == "br" else _Zstd()
