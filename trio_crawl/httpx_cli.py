"""httpx's command line loads when it is first used, not whenever httpx is imported.

httpx's ``__init__`` ends with ``from ._main import main``: the ``httpx`` console script. When
click is installed, that import pulls click, rich and pygments into every process that imports
httpx, a crawl's included, which never runs that command line; it is a large share of what a
crawl's start costs. So, for a process that imports trio_crawl before httpx, httpx is loaded by
its own loader with one difference: while its ``__init__`` runs, ``httpx._main`` is a
placeholder, and afterwards ``httpx.main`` is looked up on first use (PEP 562), which imports
the real ``httpx._main`` then and gives its ``main``, as httpx would have named it. Nothing else
in httpx changes, ``import httpx._main`` loads the module httpx ships, and a process that
imported httpx first, or lacks a package of httpx's ``cli`` extra (where httpx's own fallback
``main`` applies), is left exactly as it was.

The hook is a finder at the front of `sys.meta_path` that answers for ``httpx`` only, once, and
takes itself out when it does: a library may not change how other modules load, so it changes
this one import and nothing after it.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

_HTTPX = "httpx"
_COMMAND_LINE = "httpx._main"
_CLI_EXTRA = ("click", "rich", "pygments")
"""What ``httpx._main`` imports at its top: without one of them httpx defines its own
fallback ``main``, which is left to it."""


def defer_httpx_command_line() -> None:
    """Make the next import of httpx in this process leave out its command line, unless httpx
    is already imported or the hook is already in place."""
    if _HTTPX in sys.modules or any(isinstance(f, _HttpxFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _HttpxFinder())


def _find(name: str, path: Sequence[str] | None) -> ModuleSpec | None:
    """`name`'s spec from the finders after this one, as the import system would ask them."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None and not isinstance(finder, _HttpxFinder):
            spec: ModuleSpec | None = find_spec(name, path)
            if spec is not None:
                return spec
    return None


class _HttpxFinder:
    """Answers for ``httpx`` once: its own spec, loaded through `_DeferringLoader`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != _HTTPX:
            return None
        sys.meta_path.remove(self)
        spec = _find(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        if any(_find(package, None) is None for package in _CLI_EXTRA):
            return spec
        spec.loader = cast("Loader", _DeferringLoader(spec.loader))
        return spec


class _DeferringLoader:
    """httpx's own loader, with ``httpx._main`` held back while its ``__init__`` runs."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # From here on httpx's spec names its own loader, as if this one had never been.
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        module.__loader__ = self.loader
        placeholder = types.ModuleType(_COMMAND_LINE)
        # httpx's ``__init__`` sets ``__module__`` on what it exports: a namespace takes that.
        not_loaded = types.SimpleNamespace()
        placeholder.main = not_loaded  # type: ignore[attr-defined]
        sys.modules[_COMMAND_LINE] = placeholder
        try:
            self.loader.exec_module(module)
        finally:
            if sys.modules.get(_COMMAND_LINE) is placeholder:
                del sys.modules[_COMMAND_LINE]
        namespace = vars(module)
        if namespace.get("_main") is placeholder:
            del namespace["_main"]
        if namespace.get("main") is not_loaded:
            del namespace["main"]
            namespace["__getattr__"] = _command_line_of(module, namespace.get("__getattr__"))


def _command_line_of(httpx: types.ModuleType, previous: Any) -> Any:
    def __getattr__(name: str) -> Any:
        if name != "main":
            if previous is not None:
                return previous(name)
            raise AttributeError(f"module {httpx.__name__!r} has no attribute {name!r}")
        from httpx._main import main

        main.__module__ = httpx.__name__  # as httpx's ``__init__`` names everything it exports
        vars(httpx)["main"] = main
        return main

    return __getattr__
