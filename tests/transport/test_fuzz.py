"""Differential fuzz: `TrioTransport`, with each parser, reads and writes HTTP/1.1 as h11 does.

The reference is h11 as httpx's default transport runs it (httpcore). For every seed a
loopback server sends the bytes of `fuzz_cases.response_case(seed)` to a request; each
transport's outcome is the status, reason, version, raw headers, raw body (no decoding), or
the type of the error it raised, and whether the next request went on the same connection
(the server says which connection each request came on). Then `request_case(seed)` is sent by
each transport to a server that records every byte it receives: the same requests must be
refused (`LocalProtocolError`), nothing of a refused one may reach the server, and an accepted
one must put the same bytes on the wire.

Listed differences from httpcore, each where h11's reading is not what httpcore does with it:

- **Bytes after the end of a response**: h11 keeps them as trailing data, and httpcore's pool
  does not look there (its idle check asks the socket, which is empty), so it reuses the
  connection and reads them as the next response. h11's reading is that the connection is
  out of step: the expected outcome is "not reused".
- **A request body unlike its Content-Length**: httpcore lets h11's own
  ``h11.LocalProtocolError`` out of its body writer, unmapped, after writing the head (and,
  for a short body, the body); `TrioTransport` raises ``httpx.LocalProtocolError`` before a
  byte is written. The error counts as the same; what reached the server is checked apart.

- **One empty line after a response** (and nothing else): llhttp skips empty lines between
  messages without a callback, so the httptools parser cannot see them, and keeps the
  connection. This one is harmless: the next response's parser (llhttp again, or h11 after
  the httptools parser drops leading empty lines) skips them too, so nothing can be read out
  of step. With httptools only, the connection may be reused or not (it is not where h11
  reads the head, or where llhttp meets the line as a HEAD's or a 204's body).

HTTP/1.0 responses are followed by a close (`response_case`), so the one reuse rule where
`TrioTransport` is deliberately not h11 (it keeps an HTTP/1.0 ``keep-alive`` connection, see
`test_parsers`) does not show here.

``pytest tests/transport/test_fuzz.py --seeds 2000`` for a long run (conftest.py).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from contextlib import suppress

import attrs
import h11
import httpx
import trio

from .fuzz_cases import RequestCase, ResponseCase, request_case, response_case
from .servers import ScriptedServer, ServerConnection, response, start_server
from .test_conformance import TRANSPORTS, make_transport

REFERENCE = "httpcore"
TIMEOUTS = httpx.Timeout(3.0, read=1.0)
"""A transport that misreads a response's end fails its seed after a second, not a hang."""


@attrs.frozen
class Outcome:
    status: int | None = None
    reason: bytes | None = None
    version: bytes | None = None
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes | None = None
    error: str | None = None
    reused: bool = False


class ResponseServer:
    """Answers /fuzz/<seed>/<kind> with that seed's case, anything else with "next", and
    remembers which connection each request came on."""

    def __init__(self) -> None:
        self.connection_of: dict[str, int] = {}

    async def respond(self, conn: ServerConnection) -> None:
        while (request := await conn.read_request()) is not None:
            self.connection_of[request.target] = conn.index
            if request.target.startswith("/fuzz/"):
                case = response_case(int(request.target.split("/")[2]))
                await conn.send(case.data)
                if case.close_after:
                    return
            else:
                await conn.send(response(body=b"next"))


async def observe(
    client: httpx.AsyncClient, base: str, case: ResponseCase, kind: str, routes: dict[str, int]
) -> Outcome:
    fuzz = f"/fuzz/{case.seed}/{kind}"
    follow = f"/next/{case.seed}/{kind}"
    outcome = await _fetch(client, case.method, base + fuzz)
    with suppress(httpx.HTTPError):  # only which connection it went on matters
        await (await client.get(base + follow)).aread()
    reused = fuzz in routes and routes.get(follow) == routes[fuzz]
    return attrs.evolve(outcome, reused=reused)


async def _fetch(client: httpx.AsyncClient, method: str, url: str) -> Outcome:
    try:
        got = await client.send(client.build_request(method, url), stream=True)
        try:
            body = b"".join([chunk async for chunk in got.aiter_raw()])
        finally:
            await got.aclose()
    except httpx.HTTPError as exc:
        return Outcome(error=type(exc).__name__)
    return Outcome(
        status=got.status_code,
        reason=got.extensions["reason_phrase"],
        version=got.extensions["http_version"],
        headers=tuple(got.headers.raw),
        body=body,
    )


def expected_from(reference: Outcome, case: ResponseCase, ours: Outcome, kind: str) -> Outcome:
    """What `kind` must make of the case, from what httpcore did (the listed differences)."""
    if case.blank_after and kind == "trio-httptools":
        return attrs.evolve(reference, reused=ours.reused)
    if case.extra:
        return attrs.evolve(reference, reused=False)
    return reference


def describe(case: ResponseCase | RequestCase, outcomes: Mapping[str, object]) -> str:
    lines = [f"seed {case.seed}: {'; '.join(case.notes)}"]
    if isinstance(case, ResponseCase):
        lines.append(f"  {case.method}, server sends {case.data[:300]!r}")
    else:
        lines.append(f"  {case.method!r} headers={case.headers!r} content={case.content!r}")
    lines += [f"  {kind}: {outcome}" for kind, outcome in outcomes.items()]
    return "\n".join(lines)


async def test_every_transport_reads_random_responses_as_h11_does(
    nursery: trio.Nursery, seeds: range
) -> None:
    answers = ResponseServer()
    server = await start_server(nursery, answers.respond)
    tls = ssl.create_default_context()
    clients = {
        kind: httpx.AsyncClient(transport=make_transport(kind, ssl_context=tls), timeout=TIMEOUTS)
        for kind in TRANSPORTS
    }
    failures: list[str] = []
    try:
        for seed in seeds:
            case = response_case(seed)
            outcomes = {
                kind: await observe(client, server.url, case, kind, answers.connection_of)
                for kind, client in clients.items()
            }
            for kind in TRANSPORTS:
                expected = expected_from(outcomes[REFERENCE], case, outcomes[kind], kind)
                if kind != REFERENCE and outcomes[kind] != expected:
                    failures.append(describe(case, {f"{kind} expected": expected, **outcomes}))
    finally:
        for client in clients.values():
            await client.aclose()
    assert not failures, f"{len(failures)} of {len(seeds)} seeds differ:\n" + "\n".join(
        failures[:10]
    )


# --- requests ----------------------------------------------------------------------------------

_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$")


def _request_complete(data: bytes) -> bool:
    head, found, body = data.partition(b"\r\n\r\n")
    if not found:
        return False
    length = _CONTENT_LENGTH.search(head)
    return len(body) >= (int(length.group(1)) if length else 0)


async def answer_once(conn: ServerConnection) -> None:
    """Record what arrives; answer (and close) once a whole request is in."""
    data = b""
    while chunk := await conn.receive_raw():
        data += chunk
        if _request_complete(data):
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            return


@attrs.frozen
class Sent:
    status: int | None
    error: str | None
    received: bytes


async def send_case(
    server: ScriptedServer, kind: str, case: RequestCase, tls: ssl.SSLContext
) -> Sent:
    before = len(server.received)
    status = error = None
    async with httpx.AsyncClient(
        transport=make_transport(kind, ssl_context=tls), timeout=TIMEOUTS
    ) as client:
        try:
            request = client.build_request(
                case.method,
                f"{server.url}/req/{case.seed}",
                content=case.content,
                headers=list(case.headers),
            )
            status = (await client.send(request)).status_code
        except (httpx.HTTPError, h11.LocalProtocolError) as exc:
            error = type(exc).__name__
    await server.wait_closed(server.accepted)
    return Sent(status, error, bytes(server.received[before:]))


async def test_every_transport_refuses_random_invalid_requests_as_h11_does(
    nursery: trio.Nursery, seeds: range
) -> None:
    server = await start_server(nursery, answer_once)
    tls = ssl.create_default_context()
    failures: list[str] = []
    refused = 0
    for seed in seeds:
        case = request_case(seed)
        sent = {kind: await send_case(server, kind, case, tls) for kind in TRANSPORTS}
        reference = sent[REFERENCE]
        refused += reference.error is not None
        for kind in TRANSPORTS:
            if kind == REFERENCE:
                continue
            ours = sent[kind]
            if ours.error is not None and ours.received:
                failures.append(describe(case, {f"{kind} sent bytes it refused": ours}))
            if (ours.status, ours.error) != (reference.status, reference.error):
                failures.append(describe(case, sent))
            elif ours.error is None and ours.received != reference.received:
                failures.append(describe(case, {"different bytes": "", **sent}))
    assert not failures, f"{len(failures)} differences:\n" + "\n".join(failures[:10])
    # The seeds did exercise refusals (a generator that stopped making them would pass).
    assert refused >= len(seeds) // 10
