"""Who may read the page and who may steer the crawl: one random token, printed with the URL.

On a loopback address, a request without the token may read (the page, the event stream) but
never steer; on any other address, nothing is served without it. A wrong token is refused
everywhere. The token is compared in constant time.
"""

from __future__ import annotations

import ipaddress
import secrets

import attrs

TOKEN_HEADER = "x-trio-crawl-token"


def is_loopback(host: str) -> bool:
    """True for localhost and the loopback ranges (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(18)


@attrs.frozen
class Access:
    token: str
    loopback: bool

    def allows(self, given: str | None, *, steer: bool) -> bool:
        """Whether a request that gave `given` (None: no token) may read, or `steer`."""
        if given is not None:
            return secrets.compare_digest(given.encode(), self.token.encode())
        return self.loopback and not steer
