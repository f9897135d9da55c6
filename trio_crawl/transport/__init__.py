"""A fast trio-native HTTP/1.1 transport for httpx (see `transport` for why and how)::

async with httpx.AsyncClient(transport=TrioTransport(max_connections=50)) as client:
    response = await client.get(url)
"""

from .transport import DEADLINE_EXTENSION as DEADLINE_EXTENSION
from .transport import TrioTransport as TrioTransport

__all__ = ["DEADLINE_EXTENSION", "TrioTransport"]
