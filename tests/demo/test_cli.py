"""`python -m trio_crawl.demo.server` and the package's lazily loaded server names."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest
import trio

import trio_crawl.demo


async def test_the_command_serves_announces_its_url_and_stops_quietly_on_ctrl_c() -> None:
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trio_crawl.demo.server", "--port", "0", "--products", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = b""
        with trio.fail_after(20):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(1)
                assert chunk, "the server exited before announcing itself"
                line += chunk
        text = line.decode()
        assert text.startswith("serving demo catalogue at http://127.0.0.1:")
        assert text.endswith(" (30 products, 3 pages)\n")
        base_url = text.split(" at ", 1)[1].split(" ", 1)[0]
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            response = await http.get(base_url + "/csa-iot_products/page/3/")
        assert response.status_code == 200 and b"post-feed" in response.content
    finally:
        process.send_signal(signal.SIGINT)
        with trio.fail_after(10):
            await process.wait()
    errors = await process.stderr.receive_some(65536)
    assert b"Warning" not in errors and b"Traceback" not in errors
    assert process.returncode == 0


async def test_serve_demo_latency_delays_each_response_of_the_command() -> None:
    """The command's ``--latency`` reaches the server (a real process, so the real clock)."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "trio_crawl", "serve-demo", "--port", "0", "--products", "30",
         "--latency", "400"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = b""
        with trio.fail_after(20):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(1)
                assert chunk, "the server exited before announcing itself"
                line += chunk
        base_url = line.decode().split(" at ", 1)[1].split(" ", 1)[0]
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            for path in ("/csa-iot_products/page/2/", "/robots.txt"):
                started = trio.current_time()
                response = await http.get(base_url + path)
                assert response.status_code == 200
                assert trio.current_time() - started >= 0.4
    finally:
        process.send_signal(signal.SIGINT)
        with trio.fail_after(10):
            await process.wait()


@pytest.mark.parametrize("latency", ["-1", "60001", "nan", "soon"])
def test_serve_demo_refuses_a_latency_out_of_range(latency: str) -> None:
    from trio_crawl.cli import UsageError, build_parser

    with pytest.raises(UsageError, match="--latency"):
        build_parser().parse_args(["serve-demo", "--latency", latency])
    assert build_parser().parse_args(["serve-demo", "--latency", "50"]).latency == 50


def test_server_names_load_on_first_use() -> None:
    from trio_crawl.demo import DemoServer, DemoStats, run_demo_server, serve_demo

    assert serve_demo.__module__ == "trio_crawl.demo.server"
    assert {DemoServer.__name__, DemoStats.__name__, run_demo_server.__name__} == {
        "DemoServer", "DemoStats", "run_demo_server",
    }  # fmt: skip
    assert set(trio_crawl.demo.__all__) <= set(dir(trio_crawl.demo)) | {
        "DemoServer", "DemoStats", "run_demo_server", "serve_demo",
    }  # fmt: skip
    with pytest.raises(AttributeError):
        trio_crawl.demo.no_such_name  # noqa: B018
