"""What one request costs the client, pinned where a cheaper path was taken on purpose: each
test fails if the request goes back to the dearer way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import trio

from trio_crawl.transport import TrioTransport

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
