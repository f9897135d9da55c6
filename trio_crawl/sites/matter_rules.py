"""What makes a Matter product acceptable to store (the Matter site's `problems`). Pure."""

from __future__ import annotations

import re

from ..errors import ErrorKind, StageError
from .records import Product

CERTIFICATE_ID = re.compile(r"^CSA\d{5}[A-Z]{3}\d{5}-\d{2}$")
MAX_ID = 0xFFFF


def problems(product: Product) -> list[str]:
    """Every reason `product` is not fit to store (empty when it is)."""
    detail, ref = product.detail, product.ref
    found: list[str] = []
    for name in ("model", "manufacturer", "certificate_id"):
        if not getattr(detail, name):
            found.append(f"{name} missing")
    if detail.certificate_id and not CERTIFICATE_ID.match(detail.certificate_id):
        found.append(f"certificate_id {detail.certificate_id!r} is not of the form CSA…MAT…-NN")
    if detail.certificate_id and ref.certificate_id and detail.certificate_id != ref.certificate_id:
        found.append(
            f"certificate_id {detail.certificate_id!r} differs from the list page's "
            f"{ref.certificate_id!r}"
        )
    for name in ("vid", "pid"):
        value = getattr(detail, name)
        if value is None:
            found.append(f"{name} missing")
        elif not 0 <= value <= MAX_ID:
            found.append(f"{name} {value} is outside 0..0x{MAX_ID:X}")
    return found


def validate(product: Product) -> Product:
    """Return `product` if it is fit to store; raise `StageError(validation_error)` if not."""
    found = problems(product)
    if found:
        raise StageError(ErrorKind.validation_error, f"{product.ref.url}: {'; '.join(found)}")
    return product
