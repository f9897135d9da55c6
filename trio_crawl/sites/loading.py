"""Naming a site on the command line: ``package.module:factory``, called with the base URL and
the config file's ``[site]`` options. Every way that can go wrong is a `SiteLoadError` saying
which part of the name (or which option) to fix."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Mapping
from typing import Any

DEFAULT_SITE = "trio_crawl.sites:MatterCatalogue"
"""The Matter certified-product catalogue."""

BUILT_IN = {"matter": DEFAULT_SITE, "bookshop": "trio_crawl.sites.bookshop:Bookshop"}
"""Short names for the sites trio_crawl ships."""

_REQUIRED = ("base_url", "per_page", "ordering", "list_url", "parse_list", "parse_detail",
             "ref", "item", "problems")  # fmt: skip


class SiteLoadError(Exception):
    """A ``--site`` that names nothing usable, or ``[site]`` options its factory refuses."""


def load_site(spec: str, base_url: str, options: Mapping[str, Any] | None = None) -> Any:
    """The site `spec` names (``package.module:factory`` or a built-in short name), built as
    ``factory(base_url, **options)``."""
    spec = BUILT_IN.get(spec, spec)
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise SiteLoadError(
            f"--site {spec!r} is not of the form package.module:factory"
            f" (or one of {', '.join(sorted(BUILT_IN))}){_did_you_mean(spec, BUILT_IN)}"
        )
    # As uvicorn and gunicorn do: a module in the current directory is found too, also when
    # run as the `trio-crawl` script (whose own folder is on the path instead).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SiteLoadError(f"--site {spec!r}: cannot import {module_name!r} ({exc})") from exc
    factory = module
    for part in attribute.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError:
            names = [name for name in dir(factory) if not name.startswith("_")]
            raise SiteLoadError(
                f"--site {spec!r}: {module_name} has no {attribute!r}" + _did_you_mean(part, names)
            ) from None
    if not callable(factory):
        raise SiteLoadError(f"--site {spec!r}: {attribute} is not callable")
    options = dict(options or {})
    _check_options(spec, factory, options)
    site = factory(base_url, **options)
    missing = [name for name in _REQUIRED if not hasattr(site, name)]
    if missing:
        raise SiteLoadError(
            f"--site {spec!r} made {site!r}, which is not a site: it lacks {', '.join(missing)}"
            " (subclass trio_crawl.sites.SiteBase)"
        )
    return site


def _did_you_mean(wrong: str, known: Any) -> str:
    import difflib

    close = difflib.get_close_matches(wrong, list(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def _check_options(spec: str, factory: Any, options: Mapping[str, Any]) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return  # a builtin or C callable: let the call say
    try:
        signature.bind("base_url", **options)
    except TypeError as exc:
        accepted = [
            name
            for name, parameter in signature.parameters.items()
            if parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
        ][1:]
        raise SiteLoadError(
            f"[site] options {sorted(options)} do not fit {spec} ({exc}); it takes"
            f" {', '.join(accepted) or 'no options'}"
        ) from None
