"""The child side of `parsing.ParsePool`: a process that parses pages for a crawl.

Run as ``python -m trio_crawl.crawling.parse_worker`` by the pool, never by hand. It speaks
length-prefixed pickles over its standard input and output (see `frame`):

    in:  (sys.path, site)                      once, first
    out: (0, True, None)                        ready (or (0, False, error): the site did not load)
    in:  (id, kind, url, status, body, headers) a page; kind is "list" or "detail"
    out: (id, True, record) | (id, False, exception) | (id, None, None: parse it yourself)

It is plain blocking Python: one page at a time, no trio, nothing to schedule. It ignores
SIGINT (a Ctrl-C in the terminal reaches the whole process group; the crawl decides what
stops) and exits when its input ends, so a crawl that dies, even by SIGKILL, takes it along:
a thread watches the input for its hang-up even while a page is being parsed, however long
that takes. (``PR_SET_PDEATHSIG`` cannot do it: trio starts processes from a worker thread,
and the kernel would send the signal when that thread, not the crawl, ends.)
Whatever the site's code prints goes to standard error: standard output carries only frames.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
import threading
from typing import Any

from ..sites.response import Response

HEADER = struct.Struct("!I")


def frame(message: Any) -> bytes:
    """`message` pickled, after its length (4 bytes, network order)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def frames(buffer: bytearray) -> list[Any]:
    """Take every complete frame off the front of `buffer`, unpickled, in order."""
    messages = []
    start = 0
    size = len(buffer)
    while size - start >= HEADER.size:
        (length,) = HEADER.unpack_from(buffer, start)
        end = start + HEADER.size + length
        if end > size:
            break
        messages.append(pickle.loads(memoryview(buffer)[start + HEADER.size : end]))
        start = end
    del buffer[:start]
    return messages


def answer(site: Any, message: tuple[int, str, str, int, bytes, Any]) -> bytes:
    """Parse one page; its answer frame."""
    ident, kind, url, status, body, headers = message
    response = Response(url, status, body, headers)
    try:
        record = site.parse_list(response) if kind == "list" else site.parse_detail(response)
        outcome: tuple[int, bool | None, Any] = (ident, True, record)
    except Exception as exc:  # the crawl judges it, as it would an inline parse's
        outcome = (ident, False, exc)
    try:
        return frame(outcome)
    except Exception:  # a record or an error pickle cannot carry: the crawl parses it itself
        return frame((ident, None, None))


def serve(read_fd: int, write_fd: int) -> None:
    """Answer pages from `read_fd` on `write_fd` until the input ends."""
    buffer = bytearray()
    site: Any = None
    while True:
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:
            return
        buffer += chunk
        out = []
        for message in frames(buffer):
            if site is None:
                paths, pickled_site = message
                sys.path[:] = [*paths, *(p for p in sys.path if p not in paths)]
                try:
                    site = pickle.loads(pickled_site)
                except Exception as exc:
                    out.append(frame((0, False, RuntimeError(f"cannot load the site: {exc!r}"))))
                    _write(write_fd, b"".join(out))
                    return
                out.append(frame((0, True, None)))
            else:
                out.append(answer(site, message))
        if out:
            _write(write_fd, b"".join(out))


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def exit_when_orphaned(read_fd: int) -> None:
    """Exit the process as soon as nobody can write to `read_fd` any more (the crawl is gone).
    Polled for nothing but the hang-up, which a pipe reports once its last writer closes."""
    poller = select.poll()
    poller.register(read_fd, 0)
    while True:
        for _, event in poller.poll():
            if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                os._exit(0)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=exit_when_orphaned, args=(0,), daemon=True).start()
    protocol_out = os.dup(1)
    os.dup2(2, 1)  # a print() in a parser must not land in the middle of a frame
    with contextlib.suppress(BrokenPipeError):  # the crawl went away first
        serve(0, protocol_out)


if __name__ == "__main__":
    main()
