"""Sites: what a catalogue looks like to the crawl (`Site`), and the Matter catalogue adapter."""

from .matter import MatterCatalogue as MatterCatalogue
from .protocol import Site as Site
from .records import ListEntry as ListEntry
from .records import ListPage as ListPage
from .records import Product as Product
from .records import ProductDetail as ProductDetail
from .records import ProductRef as ProductRef

__all__ = [
    "ListEntry",
    "ListPage",
    "MatterCatalogue",
    "Product",
    "ProductDetail",
    "ProductRef",
    "Site",
]
