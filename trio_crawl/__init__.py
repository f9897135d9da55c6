"""trio_crawl: crawl paginated catalogues into validated records with trio structured concurrency.

The public surface is this file; everything else is private or lives in a subpackage
(`trio_crawl.sites`, `trio_crawl.stores`, `trio_crawl.demo`, `trio_crawl.engine`). Every name
loads on first use (PEP 562): `import trio_crawl.engine` stays free of httpx, lxml, selectolax
and sqlite3, and `import trio_crawl.sites` (a parse process's one import) of trio as well.
"""

from typing import TYPE_CHECKING, Any

from .httpx_cli import defer_httpx_command_line as _defer_httpx_command_line

_defer_httpx_command_line()

if TYPE_CHECKING:
    from .api import crawl as crawl
    from .api import open_session as open_session
    from .config import ConfigError as ConfigError
    from .config import CrawlConfig as CrawlConfig
    from .engine import EngineSettings as EngineSettings
    from .engine import ErrorKind as ErrorKind
    from .engine import FailedItem as FailedItem
    from .engine import FatalError as FatalError
    from .engine import Interrupted as Interrupted
    from .engine import PartialSuccess as PartialSuccess
    from .engine import Plan as Plan
    from .engine import RetryCalculator as RetryCalculator
    from .engine import RetryPolicy as RetryPolicy
    from .engine import Session as Session
    from .engine import SessionStatus as SessionStatus
    from .engine import SessionSummary as SessionSummary
    from .engine import Stage as Stage
    from .engine import StageError as StageError
    from .engine import StageResult as StageResult
    from .engine import StageSettings as StageSettings
    from .engine import Success as Success
    from .engine import events as events
    from .engine import oneshot as oneshot
    from .stores import open_store as open_store

__version__ = "0.1.0"

_LAZY = {
    "EngineSettings": ".engine",
    "ErrorKind": ".engine",
    "FailedItem": ".engine",
    "FatalError": ".engine",
    "Interrupted": ".engine",
    "PartialSuccess": ".engine",
    "Plan": ".engine",
    "RetryCalculator": ".engine",
    "RetryPolicy": ".engine",
    "Session": ".engine",
    "SessionStatus": ".engine",
    "SessionSummary": ".engine",
    "Stage": ".engine",
    "StageError": ".engine",
    "StageResult": ".engine",
    "StageSettings": ".engine",
    "Success": ".engine",
    "oneshot": ".engine",
    "crawl": ".api",
    "open_session": ".api",
    "open_store": ".stores",
    "ConfigError": ".config",
    "CrawlConfig": ".config",
}


_MODULES = {"events": ".engine.events"}

__all__ = [
    "ConfigError",
    "CrawlConfig",
    "EngineSettings",
    "ErrorKind",
    "FailedItem",
    "FatalError",
    "Interrupted",
    "PartialSuccess",
    "Plan",
    "RetryCalculator",
    "RetryPolicy",
    "Session",
    "SessionStatus",
    "SessionSummary",
    "Stage",
    "StageError",
    "StageResult",
    "StageSettings",
    "Success",
    "crawl",
    "events",
    "oneshot",
    "open_session",
    "open_store",
]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _MODULES:
        value = importlib.import_module(_MODULES[name], __name__)
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The public names only: not what this file needs for itself (`Any`, `TYPE_CHECKING`).
    return sorted([*__all__, "__version__"])
