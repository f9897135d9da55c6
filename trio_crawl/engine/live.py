"""The running session's current config, replaced whole on a valid live reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.model import CrawlConfig


class LiveConfig:
    """Holds the config in force; readers look at `.current` at each attempt or stage start,
    so a reload applies from the next one. `version` lets hot paths notice a change cheaply."""

    __slots__ = ("_listeners", "current", "version")

    def __init__(self, config: CrawlConfig) -> None:
        self.current = config
        self.version = 0
        self._listeners: list[Callable[[CrawlConfig], None]] = []

    def update(self, config: CrawlConfig) -> None:
        self.current = config
        self.version += 1
        for listener in self._listeners:
            listener(config)

    def on_change(self, listener: Callable[[CrawlConfig], None]) -> None:
        """Call `listener` with each new config (e.g. to retune a rate limiter)."""
        self._listeners.append(listener)
