"""Sites: what a catalogue looks like to the crawl (`Site`, and `SiteBase` to write your own),
the Matter catalogue and the demo bookshop."""

from .base import SiteBase as SiteBase
from .matter import MatterCatalogue as MatterCatalogue
from .protocol import Ordering as Ordering
from .protocol import Site as Site
from .records import Card as Card
from .records import Found as Found
from .records import ListEntry as ListEntry
from .records import ListPage as ListPage
from .records import Product as Product
from .records import ProductDetail as ProductDetail
from .records import ProductRef as ProductRef
from .records import Record as Record
from .response import Response as Response

__all__ = [
    "Card",
    "Found",
    "ListEntry",
    "ListPage",
    "MatterCatalogue",
    "Ordering",
    "Product",
    "ProductDetail",
    "ProductRef",
    "Record",
    "Response",
    "Site",
    "SiteBase",
]
