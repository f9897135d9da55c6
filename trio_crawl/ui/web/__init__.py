"""The live web page: watch and steer a crawl from a browser (`--web`), or read a database
(`trio-crawl web --db`). Starlette on hypercorn's trio worker, fed by the session's events.
Importing it loads starlette and hypercorn, so the CLI imports it only when asked to."""

from .access import Access as Access
from .app import make_app as make_app
from .database import DatabaseView as DatabaseView
from .hub import LiveHub as LiveHub
from .server import OpenPage as OpenPage
from .server import WebAddress as WebAddress
from .server import WebAddressError as WebAddressError
from .server import live_page as live_page
from .server import open_page as open_page
from .server import serve_database as serve_database
from .server import until_interrupted as until_interrupted
