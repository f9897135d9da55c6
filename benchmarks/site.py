"""The benchmark catalogue: the demo catalogue as static files, served on 127.0.0.1.

    python benchmarks/site.py [--products 4000] [--server auto|nginx|demo] [--port 0] [--check]

Writes `trio_crawl.demo`'s catalogue (same generator, same markup) under ``benchmarks/.site/``
(git-ignored) and serves it with **nginx** when the ``nginx`` binary is there (Debian package
``nginx-light``; one worker, access log off, keep-alive for as long as a run lasts), otherwise
with ``python -m trio_crawl.demo.server`` in its own process. It prints which server it used.

The pages carry absolute links, so a written site is tied to its port: the port is kept in
``.site/<products>/site.json`` and reused while it is free, and the site is rewritten
otherwise. nginx is configured like the live site: list pages past the end show page 1 (so the
status check finds the real last page), query strings are ignored.

From Python (what ``run.py`` and ``memory.py`` use)::

    with serve_site(products=4000) as site:
        print(site.base_url, site.server, site.last_page)

``--check`` runs trio_crawl's status check against the served site and says whether it found
the right last page.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SITE_DIR = BENCH_DIR / ".site"
SEED = 7
HOST = "127.0.0.1"
_LAYOUT_VERSION = 1  # bump when the written layout or nginx config changes
_START_TIMEOUT_SECS = 30.0

ServerKind = Literal["nginx", "demo"]

if str(REPO) not in sys.path:  # `python benchmarks/site.py` from a checkout without install
    sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class SiteInfo:
    """A served catalogue: where it is, who serves it, and how much there is to crawl."""

    base_url: str
    server: ServerKind
    products: int
    last_page: int
    on_last: int

    @property
    def pages(self) -> int:
        """Every page a full crawl must fetch at least once: list pages plus detail pages."""
        return self.last_page + self.products

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def free_port() -> int:
    """A port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def nginx_binary() -> str | None:
    """The nginx executable, looked up on PATH and in the usual sbin folders."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def site_root(products: int) -> Path:
    return SITE_DIR / str(products)


def build_site(products: int, port: int | None = None, *, quiet: bool = False) -> tuple[Path, int]:
    """Write the static site for `products` (or reuse the one there); return (root, port).

    A site already written for the same size, seed and layout is reused with its port when
    that port is free (or equals `port`); otherwise it is rewritten for a new port.
    """
    from trio_crawl.demo import DemoCatalogue, write_static_site

    root = site_root(products)
    stamp_path = root / "site.json"
    www = root / "www"
    stamp: dict[str, int] = {}
    if stamp_path.exists():
        with contextlib.suppress(ValueError, OSError):
            stamp = json.loads(stamp_path.read_text())
    wanted = {"products": products, "seed": SEED, "layout": _LAYOUT_VERSION}
    same = all(stamp.get(key) == value for key, value in wanted.items())
    reusable = same and www.is_dir() and (port is None or stamp.get("port") == port)
    if reusable and port_is_free(stamp["port"]):
        return root, stamp["port"]
    port = port or free_port()
    if www.exists():
        shutil.rmtree(www)
    started = time.perf_counter()
    catalogue = DemoCatalogue(products=products, seed=SEED)
    counts = write_static_site(catalogue, www, f"http://{HOST}:{port}")
    stamp_path.write_text(json.dumps({**wanted, "port": port, **counts}))
    if not quiet:
        print(
            f"site: wrote {counts['files']:,} files ({counts['bytes'] / 2**20:,.0f} MiB) "
            f"in {time.perf_counter() - started:.1f} s under {www}",
            file=sys.stderr,
        )
    return root, port


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (children inherit it);
    return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > 1 << 20:
        hard = 1 << 20
    if soft != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return int(soft)


def nginx_config(root: Path, port: int, open_files: int = 1024) -> str:
    """A self-contained nginx config serving `root/www` on 127.0.0.1:`port` in the foreground.

    nginx's open-file cache keeps descriptors open, so it and the connection limit are sized
    to fit in `open_files` (a cache larger than the limit fails requests with EMFILE).
    """
    connections = max(256, min(4096, open_files // 4))
    cached = max(128, min(8192, open_files // 2))
    www = root / "www"
    temp = root / "nginx-temp"
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""\
# Generated by benchmarks/site.py; rewritten at every start.
{user}worker_processes 1;
daemon off;
pid {root / "nginx.pid"};
error_log {root / "nginx-error.log"} warn;
events {{ worker_connections {connections}; }}
http {{
    types {{ text/html html; text/plain txt; }}
    default_type application/octet-stream;
    charset utf-8;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 600s;
    open_file_cache max={cached} inactive=600s;
    open_file_cache_valid 600s;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen {HOST}:{port} backlog=4096;
        server_name localhost;
        root {www};
        index index.html;
        error_page 404 /404.html;
        # Like the live site: a list page past the end shows page 1. Static files ignore the
        # query string, so the live site's list URLs work unchanged.
        location /csa-iot_products/page/ {{
            try_files $uri $uri/index.html /csa-iot_products/index.html;
        }}
        location / {{
            try_files $uri $uri/index.html =404;
        }}
    }}
}}
"""


def _wait_listening(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_SECS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start with code {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {HOST}:{port} within {_START_TIMEOUT_SECS} s")


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a server child: `sig`, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _nginx(binary: str, products: int, port: int | None, quiet: bool) -> Iterator[str]:
    root, port = build_site(products, port, quiet=quiet)
    temp = root / "nginx-temp"
    temp.mkdir(exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(nginx_config(root, port, raise_open_files_limit()))
    # -e: nginx opens its error log before reading the config; keep even that inside .site.
    command = [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "nginx-error.log")]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        _wait_listening(port, process, "nginx")
        yield f"http://{HOST}:{port}"
    finally:
        _stop(process, signal.SIGQUIT)  # graceful: master waits for its worker


@contextlib.contextmanager
def _demo_server(products: int, port: int | None) -> Iterator[str]:
    command = [
        sys.executable, "-m", "trio_crawl.demo.server",
        "--port", str(port or 0), "--products", str(products), "--seed", str(SEED),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, cwd=REPO)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if "serving demo catalogue at " not in line:
            raise RuntimeError(f"demo server did not start (said {line!r})")
        base_url = line.split(" at ", 1)[1].split()[0]
        yield base_url
    finally:
        _stop(process, signal.SIGTERM)  # its SIGINT path prints a traceback (see report)


@contextlib.contextmanager
def serve_site(
    products: int = 4000,
    *,
    server: Literal["auto", "nginx", "demo"] = "auto",
    port: int | None = None,
    quiet: bool = False,
) -> Iterator[SiteInfo]:
    """Serve a `products`-sized catalogue on 127.0.0.1 for the duration of the block.

    ``server="auto"`` uses nginx when its binary is found, else the demo server. The server
    process is stopped when the block ends, however it ends.
    """
    from trio_crawl.demo import DemoCatalogue

    catalogue = DemoCatalogue(products=products, seed=SEED)
    binary = nginx_binary()
    if server == "nginx" and binary is None:
        raise RuntimeError("nginx not found (apt-get install nginx-light)")
    kind: ServerKind = "nginx" if server != "demo" and binary is not None else "demo"
    serving = _nginx(binary, products, port, quiet) if binary and kind == "nginx" else None
    with serving if serving is not None else _demo_server(products, port) as base_url:
        info = SiteInfo(base_url, kind, catalogue.total, catalogue.last_page, catalogue.on_last)
        if not quiet:
            print(
                f"site: {kind} serving {info.products:,} products "
                f"({info.last_page} list pages) at {base_url}",
                file=sys.stderr,
            )
        yield info


def check_status(site: SiteInfo) -> tuple[int, int]:
    """Run trio_crawl's status check against `site`; return the (last_page, on_last) it found."""
    import trio

    from trio_crawl.crawling.http import Fetcher
    from trio_crawl.crawling.last_page import find_last_page
    from trio_crawl.sites import MatterCatalogue
    from trio_crawl.sites.records import ListPage

    catalogue = MatterCatalogue(site.base_url)

    async def main() -> tuple[int, int]:
        async with Fetcher.open() as fetcher:

            async def fetch_list(page: int) -> ListPage:
                fetched = await fetcher.get(catalogue.list_url(page))
                return catalogue.parse_list(fetched.body, fetched.url)

            shape = await find_last_page(fetch_list)
            past = await fetch_list(site.last_page + 5)
            if past.current != 1:
                raise RuntimeError(f"a page past the end shows page {past.current}, not 1")
            return shape.last_page, shape.on_last

    return trio.run(main)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the benchmark catalogue on 127.0.0.1.")
    parser.add_argument("--products", type=int, default=4000)
    parser.add_argument("--server", choices=("auto", "nginx", "demo"), default="auto")
    parser.add_argument("--port", type=int, default=0, help="0: reuse the site's port, or any")
    parser.add_argument(
        "--check", action="store_true", help="run the status check against it, then stop"
    )
    args = parser.parse_args(argv)
    # Stop cleanly (nginx included) on SIGTERM, and on SIGINT even where a shell started us in
    # the background with SIGINT ignored.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupt)
    with serve_site(args.products, server=args.server, port=args.port or None) as site:
        print(json.dumps(site.as_dict()), flush=True)
        if args.check:
            found = check_status(site)
            expected = (site.last_page, site.on_last)
            verdict = "ok" if found == expected else "WRONG"
            print(
                f"status check: found last page {found[0]} with {found[1]} products, "
                f"expected {expected[0]} with {expected[1]}: {verdict}"
            )
            return 0 if found == expected else 1
        print("serving; Ctrl-C to stop", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
