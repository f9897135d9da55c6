"""The page's small pure parts: where it listens, who may read or steer, `--web` parsing."""

from __future__ import annotations

import pytest

from trio_crawl.cli import main
from trio_crawl.ui.web import Access, WebAddress, WebAddressError


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        ("0", "127.0.0.1", 0, True),
        ("8765", "127.0.0.1", 8765, True),
        ("localhost:80", "localhost", 80, True),
        ("127.0.0.2:9000", "127.0.0.2", 9000, True),
        ("[::1]:8765", "::1", 8765, True),
        ("0.0.0.0:8765", "0.0.0.0", 8765, False),
        ("192.0.2.10:1", "192.0.2.10", 1, False),
    ],
)
def test_web_addresses_default_to_loopback(text: str, host: str, port: int, loopback: bool) -> None:
    address = WebAddress.parse(text)
    assert (address.host, address.port, address.loopback) == (host, port, loopback)


@pytest.mark.parametrize("text", ["", "x", "host:", "1:65536", "-1", "127.0.0.1:http"])
def test_a_bad_web_address_is_refused_naming_the_form(text: str) -> None:
    with pytest.raises(WebAddressError, match="PORT or HOST:PORT"):
        WebAddress.parse(text)


def test_the_command_line_refuses_a_bad_web_address_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--web", "nope"]) == 2
    assert "PORT or HOST:PORT" in capsys.readouterr().err


def test_on_loopback_no_token_reads_but_never_steers_and_a_wrong_token_gets_nothing() -> None:
    local = Access("secret", loopback=True)
    assert local.allows(None, steer=False)
    assert not local.allows(None, steer=True)
    assert local.allows("secret", steer=True)
    assert not local.allows("secreT", steer=False)
    assert not local.allows("", steer=False)
    remote = Access("secret", loopback=False)
    assert not remote.allows(None, steer=False)
    assert remote.allows("secret", steer=False) and remote.allows("secret", steer=True)
