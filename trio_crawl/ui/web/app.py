"""The page's ASGI app (Starlette): the page itself, its event stream, its state and controls.

    GET  /               the page (HTML with its CSS and script inlined: one request, one check)
    GET  /events         server-sent events: `snapshot`, `entry` and `state` (see `hub`);
                         `Last-Event-ID` resumes after the last one a page saw
    GET  /api/state      the snapshot a fresh page starts from, as JSON
    GET  /api/streams    each open or closed stream's counts (frames sent and lost)
    POST /api/{action}   pause, resume, cancel (graceful) or stop (hard); needs the token

Reading needs the token unless the server listens on loopback; steering always needs it (see
`access`). The token comes as ``?token=`` (a browser's EventSource cannot set headers) or in
the `X-Trio-Crawl-Token` header.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .access import TOKEN_HEADER, Access
from .hub import Message

ACTIONS = ("pause", "resume", "cancel", "stop")


class PageSource(Protocol):
    """What the page shows: a live session (`LiveHub`) or a database (`DatabaseView`)."""

    async def read(self) -> dict[str, Any]: ...
    def stream(self, last_seen: int | None = None) -> AsyncIterator[Message]: ...
    def control(self, action: str) -> str: ...
    def stats(self) -> dict[str, Any]: ...


def page_html() -> str:
    """The page with its stylesheet and script inlined (package data, no build step)."""
    static = resources.files(__package__).joinpath("static")
    html = static.joinpath("index.html").read_text(encoding="utf-8")
    css = static.joinpath("style.css").read_text(encoding="utf-8")
    script = static.joinpath("app.js").read_text(encoding="utf-8")
    return html.replace("/*STYLE*/", css).replace("/*SCRIPT*/", script)


def format_event(message: Message) -> bytes:
    data = json.dumps(message.data, separators=(",", ":"))
    return f"event: {message.name}\nid: {message.id}\ndata: {data}\n\n".encode()


def make_app(source: PageSource, access: Access) -> Starlette:
    html = page_html()

    def given(request: Request) -> str | None:
        return request.headers.get(TOKEN_HEADER) or request.query_params.get("token")

    def refused(request: Request, *, steer: bool) -> Response | None:
        token = given(request)
        if access.allows(token, steer=steer):
            return None
        why = "a wrong token" if token is not None else "no token"
        need = "steering the crawl" if steer else "this page"
        return JSONResponse({"error": f"{why}: {need} needs the token printed with the URL"}, 403)

    async def page(request: Request) -> Response:
        return refused(request, steer=False) or HTMLResponse(
            html, headers={"Cache-Control": "no-store"}
        )

    async def state(request: Request) -> Response:
        problem = refused(request, steer=False)
        if problem is not None:
            return problem
        data = await source.read()
        data["can_steer"] = access.allows(given(request), steer=True)
        return JSONResponse(data)

    async def streams(request: Request) -> Response:
        return refused(request, steer=False) or JSONResponse(source.stats())

    async def events(request: Request) -> Response:
        problem = refused(request, steer=False)
        if problem is not None:
            return problem
        can_steer = access.allows(given(request), steer=True)
        header = request.headers.get("last-event-id")
        last_seen = int(header) if header is not None and header.strip().isdigit() else None

        async def body() -> AsyncIterator[bytes]:
            # A comment first: the browser sees the stream open before the first event.
            yield b": trio-crawl\nretry: 1000\n\n"
            async for message in source.stream(last_seen):
                if message.name == "snapshot":
                    message.data["can_steer"] = can_steer
                yield format_event(message)

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def control(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ACTIONS:
            return JSONResponse({"error": f"no such action {action!r}"}, 404)
        problem = refused(request, steer=True)
        if problem is not None:
            return problem
        why = source.control(action)
        if why:
            return JSONResponse({"error": why}, 409)
        return JSONResponse({"sent": action}, 202)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/events", events),
            Route("/api/state", state),
            Route("/api/streams", streams),
            Route("/api/{action}", control, methods=["POST"]),
        ]
    )
