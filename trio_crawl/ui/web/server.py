"""Serving the page from the crawl's own process: hypercorn's trio worker, in our nursery.

`open_page` binds first (so a port in use fails before any crawl starts, and ``--web 0``
learns its port), hands back the URL with the token, and on leaving asks hypercorn to shut
down: the event streams end, open connections get a short grace, then the server is gone.
"""

from __future__ import annotations

import functools
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import attrs
import trio
from hypercorn.config import Config, Sockets
from hypercorn.trio import serve

from .access import Access, is_loopback, new_token
from .app import PageSource, make_app
from .database import DatabaseView
from .hub import LiveHub

logger = logging.getLogger("trio_crawl.web")

DEFAULT_HOST = "127.0.0.1"


class WebAddressError(ValueError):
    """A `--web` value that is not ``PORT`` or ``HOST:PORT``."""


@attrs.frozen
class WebAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> WebAddress:
        """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT``; the host defaults to 127.0.0.1."""
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = DEFAULT_HOST, text
        host = host.strip("[]") or DEFAULT_HOST
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise WebAddressError(
                f"{text!r} is not PORT or HOST:PORT with a port 0..65535 (0 = any free port)"
            )
        return cls(host, int(port))

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


@attrs.frozen
class OpenPage:
    """A page being served: `url` has the token in it (print it; it is the key)."""

    base: str
    token: str

    @property
    def url(self) -> str:
        return f"{self.base}/?token={self.token}"

    @property
    def port(self) -> int:
        port = urlsplit(self.base).port
        assert port is not None
        return port


STALLED_SECS = 10.0
"""A browser that takes nothing of what is sent to it for this long is cut off."""


class _Config(Config):
    """hypercorn's config, with listening sockets whose connections give up on a peer that
    stops reading (TCP_USER_TIMEOUT, inherited by each accepted socket). hypercorn shields its
    writes from cancellation, so without this a stalled browser would hold a write, and the
    server's shutdown, forever."""

    stalled_secs = STALLED_SECS

    def create_sockets(self) -> Sockets:
        sockets = super().create_sockets()
        timeout = getattr(socket, "TCP_USER_TIMEOUT", None)
        if timeout is not None:
            for sock in sockets.insecure_sockets:
                sock.setsockopt(socket.IPPROTO_TCP, timeout, int(self.stalled_secs * 1000))
        return sockets


def _config(address: WebAddress, stalled_secs: float) -> Config:
    config = _Config()
    config.stalled_secs = stalled_secs
    host = f"[{address.host}]" if ":" in address.host else address.host
    config.bind = [f"{host}:{address.port}"]
    config.accesslog = None
    config.errorlog = logger  # its "Running on" is ours to say (with the token)
    logger.setLevel(logging.WARNING)
    config.graceful_timeout = 1.0
    config.keep_alive_timeout = 30.0
    return config


@asynccontextmanager
async def open_page(
    source: PageSource,
    address: WebAddress,
    closing: trio.Event,
    token: str | None = None,
    stalled_secs: float = STALLED_SECS,
) -> AsyncIterator[OpenPage]:
    """Serve `source` at `address` for as long as the block runs. `closing` is set on the way
    out, so that the source ends its streams before hypercorn waits for them."""
    access = Access(token or new_token(), address.loopback)
    app = make_app(source, access)
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            # Starlette's own ASGI types are not hypercorn's, though the protocol is the same.
            functools.partial(
                serve,
                app,  # type: ignore[arg-type]
                _config(address, stalled_secs),
                shutdown_trigger=shutdown.wait,
            )
        )
        base = str(binds[0])
        if not address.loopback:
            # Say the host the user asked for (0.0.0.0 binds everywhere; it is not a place).
            base = f"http://{address.host}:{urlsplit(base).port}"
        try:
            yield OpenPage(base, access.token)
        finally:
            closing.set()
            shutdown.set()


@asynccontextmanager
async def live_page(
    address: WebAddress, announce: Callable[[str], None], *, update_secs: float = 0.25
) -> AsyncIterator[LiveHub]:
    """A page for the session that will be attached to the hub handed back (`hub.attach`),
    served from before the session starts until the block ends."""
    hub = LiveHub(update_secs=update_secs)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        async with open_page(hub, address, hub.closing) as page:
            announce(page.url)
            try:
                yield hub
            finally:
                with trio.CancelScope(shield=True):
                    await hub.close()
        nursery.cancel_scope.cancel()


async def serve_database(path: str, address: WebAddress, announce: Callable[[str], None]) -> None:
    """`trio-crawl web --db`: serve the database's page until Ctrl-C or SIGTERM."""
    view = DatabaseView(path)
    await view.read()  # a file that is no crawl database is refused before serving
    async with open_page(view, address, view.closing) as page:
        announce(page.url)
        await until_interrupted()


async def until_interrupted() -> None:
    """Return at the first Ctrl-C or SIGTERM (`--keep-serving`, `trio-crawl web`)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            return
