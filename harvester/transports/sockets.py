"""httpcore's network backend on plain asyncio: the sockets under the http transport.

httpcore talks to the network through a small documented interface
(`AsyncNetworkBackend`: connect; `AsyncNetworkStream`: read, write, start_tls,
aclose). Its default goes through anyio, which wraps every read and write in
a cancel scope and an exception map, and asks the kernel with a poll() call
whether an idle keep-alive connection is still open. Here an asyncio protocol
buffers what arrives: a read takes a chunk, a write hands bytes to the
transport, and an idle connection that has data or an end of stream waiting
is known to be unusable without a system call. Reading pauses while more than
`HIGH_WATER` bytes wait, so a slow consumer of a streamed body holds little.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
import typing

import httpcore

HIGH_WATER = 256 * 1024


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.eof = False
        self.error: BaseException | None = None
        self.reading: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None
        self.paused = False  # reading paused: too much waits unread

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        _wake(self.reading)

    def eof_received(self) -> bool:
        self.eof = True
        _wake(self.reading)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        _wake(self.reading)
        _wake(self.writable)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        _wake(self.writable)
        self.writable = None

    def take(self, max_bytes: int) -> bytes:
        chunk = self.chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            self.chunks.appendleft(rest)
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= HIGH_WATER // 4 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return chunk


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        while not protocol.chunks:
            if protocol.eof:
                if protocol.error is not None:
                    raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
                return b""
            protocol.reading = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await protocol.reading
                else:
                    async with asyncio.timeout(timeout):
                        await protocol.reading
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data within {timeout} s") from None
            finally:
                protocol.reading = None
        return protocol.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("connection closed")
        self._transport.write(buffer)
        waiter = self._protocol.writable
        if waiter is not None:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(waiter)
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not send within {timeout} s") from None
            if self._protocol.error is not None:
                raise httpcore.WriteError(str(self._protocol.error))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                secure = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if secure is None:
            raise httpcore.ConnectError("connection closed during the TLS handshake")
        self._protocol.transport = secure
        return Stream(secure, self._protocol)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":  # an idle connection with bytes or an end waiting cannot be reused
            return bool(self._protocol.chunks) or self._protocol.eof or self._transport.is_closing()
        name = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }.get(info)
        return self._transport.get_extra_info(name) if name else None


class Backend(httpcore.AsyncNetworkBackend):
    """Connections for httpcore; `resolve` maps host names to the addresses to reach them at.

    As curl's `--resolve`: only the address connected to changes. The host name
    stays in the URL, the Host header, TLS SNI and the certificate check, which
    httpcore derives from the request, not from this connection.
    """

    def __init__(self, resolve: typing.Mapping[str, str] | None = None) -> None:
        self.resolve = {host.lower(): address for host, address in (resolve or {}).items()}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        address = self.resolve.get(host.lower(), host) if self.resolve else host
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, address, port, local_addr=(local_address, 0) if local_address else None
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            with contextlib.suppress(OSError):
                sock.setsockopt(*option)
        return Stream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the crawler")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
