"""The h11 response parser, behind the `parsed.ResponseParser` interface."""

from __future__ import annotations

import h11
import httpx

from .framing import MAX_HEAD_BYTES, framed, incomplete_body, persistent, too_large_head
from .parsed import ResponseParser


class H11Parser(ResponseParser):
    """h11's client state machine, fed the response bytes only.

    h11 reads a response only after it has seen a request, and needs its method (HEAD). The
    transport writes the real request itself, so h11 is shown a stand-in with the same method
    and no body; its output bytes are discarded. One `h11.Connection` per TCP connection,
    cycled between responses.
    """

    __slots__ = ("_conn",)

    def __init__(self) -> None:
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._new_response()

    def start(self, method: bytes) -> None:
        conn = self._conn
        if conn.their_state is h11.DONE:
            conn.start_next_cycle()
        elif conn.our_state is not h11.IDLE:
            # h11 closes after every HTTP/1.0 response; we kept a keep-alive one open.
            conn = self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        conn.send(h11.Request(method=method, target=b"/", headers=[(b"host", b"-")]))
        conn.send(h11.EndOfMessage())
        self._new_response()

    def feed(self, data: bytes | bytearray) -> None:
        self._conn.receive_data(data if type(data) is bytes else bytes(data))
        self._events()

    def feed_eof(self) -> None:
        if self._ended_at_eof():
            return
        self._conn.receive_data(b"")
        self._events()
        if not self.complete:
            raise incomplete_body()
        self.keep_alive = False

    def _events(self) -> None:
        conn = self._conn
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self.head_done and "complete message body" in str(exc):
                    raise incomplete_body() from exc
                if "buffer too long" in str(exc):
                    raise too_large_head() from exc
                raise httpx.RemoteProtocolError(f"malformed response: {exc}") from exc
            if isinstance(event, h11.Data):
                data = event.data
                self.body.append(data if type(data) is bytes else bytes(data))
            elif isinstance(event, h11.Response):
                self.status = event.status_code
                self.reason = bytes(event.reason)
                self.version = b"HTTP/" + bytes(event.http_version)
                self.headers = list(event.headers.raw_items())
                self.head_done = True
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
                if conn.trailing_data[0]:
                    self.keep_alive = False
                elif self.version == b"HTTP/1.0":
                    self.keep_alive = framed(self.headers) and persistent(
                        self.version, self.headers
                    )
                else:
                    self.keep_alive = conn.their_state is h11.DONE
                return
            elif isinstance(event, h11.InformationalResponse):
                continue
            else:  # NEED_DATA, PAUSED or ConnectionClosed
                return
