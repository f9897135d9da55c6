"""What a response parser has read of the current response: the attributes the transport reads
after each feed, and the interface both parsers (`httptools_parser`, `h11_parser`) implement.

A base class rather than a protocol, so that the result attributes, their slots and their
reset between responses are written once for both parsers.
"""

from __future__ import annotations

import httpx


class ResponseParser:
    """What the transport reads after each `feed`.

    `body` holds the chunks parsed since the transport last replaced it with a new list;
    `keep_alive` is meaningful once `complete`.
    """

    __slots__ = (
        "body",
        "complete",
        "head_done",
        "headers",
        "keep_alive",
        "reason",
        "status",
        "version",
    )

    status: int
    reason: bytes
    version: bytes
    headers: list[tuple[bytes, bytes]]
    head_done: bool
    complete: bool
    keep_alive: bool
    body: list[bytes]

    def start(self, method: bytes) -> None:
        """Expect the response to a request of `method`."""
        raise NotImplementedError

    def feed(self, data: bytes | bytearray) -> None:
        """Parse bytes from the server (never empty: that is `feed_eof`)."""
        raise NotImplementedError

    def feed_eof(self) -> None:
        """The server closed: the end of a close-delimited body, or an error."""
        raise NotImplementedError

    def _new_response(self) -> None:
        """Nothing read yet: the state before a response's first byte."""
        self.status = 0
        self.reason = b""
        self.version = b"HTTP/1.1"
        self.headers = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.body = []

    def _ended_at_eof(self) -> bool:
        """At EOF: True when the response was complete already (the connection is then not
        reused); raises when the server closed before the whole head came."""
        if self.complete:
            self.keep_alive = False
            return True
        if not self.head_done:
            raise httpx.RemoteProtocolError(
                "server disconnected without sending a complete response"
            )
        return False
