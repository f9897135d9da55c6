"""What one request costs the client, pinned where a cheaper path was taken on purpose: each
test fails if the request goes back to the dearer way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import trio

from trio_crawl.transport import TrioTransport
from trio_crawl.transport.request_head import KnownFields, request_head

from .test_trio_transport import always, response, serve_raw


def _local_ports(calls: list[int], method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, noting the local port of the stream it is called on."""

    def noted(self: trio.SocketStream, *args: Any) -> Any:
        calls.append(self.socket.getsockname()[1])
        return method(self, *args)

    return noted


async def test_a_plain_tcp_request_skips_the_socket_streams_layers(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The head is sent and the response read through trio's socket itself: no
    `trio.SocketStream.send_all` / `receive_some` (their concurrent-use detector, the context
    manager translating errors, the memoryview) on the client's side of the connection."""
    server = await nursery.start(serve_raw, always(response(b"<p>hi</p>")))
    server_port = int(server.url.rsplit(":", 1)[1])
    calls: list[int] = []
    for name in ("send_all", "receive_some"):
        monkeypatch.setattr(
            trio.SocketStream, name, _local_ports(calls, getattr(trio.SocketStream, name))
        )
    async with httpx.AsyncClient(transport=TrioTransport()) as client:
        for path in ("/a", "/b"):
            page = await client.get(server.url + path)
            assert (page.status_code, page.text) == (200, "<p>hi</p>")
    assert calls, "the server's side still goes through the stream"
    assert set(calls) == {server_port}, "the client's side went through trio.SocketStream"


class CountedName(bytes):
    """A header name that notes each time it is lower-cased."""

    lowered = 0

    def lower(self) -> bytes:
        CountedName.lowered += 1
        return super().lower()


def test_a_header_block_sent_before_is_not_read_again() -> None:
    """The second request with the same header lines takes the block, and what it says about
    the body and the connection, from `known`: no header is read (lower-cased, joined,
    matched) again, where each request read them all."""
    lines = [(CountedName(b"X-Trace"), b"1"), (b"Accept", b"*/*")]
    known: KnownFields = {}
    heads = []
    for path in ("/a", "/b"):
        request = httpx.Request("GET", "http://h.test" + path, headers=lines)
        before = CountedName.lowered
        heads.append(request_head(request, known))
        reads = CountedName.lowered - before
    assert reads == 0, "the second request read its headers again"
    first, second = heads
    assert first.data.replace(b"/a", b"/b") == second.data
    assert second.data.startswith(b"GET /b HTTP/1.1\r\nHost: h.test\r\nX-Trace: 1\r\n")
    assert len(known) == 1
