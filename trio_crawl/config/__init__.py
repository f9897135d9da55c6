"""Configuration: TOML sections as frozen attrs values, validated, with env overrides and
live reload (docs/architecture.md §5).

.. versionadded:: 0.1
"""

from .errors import ConfigError as ConfigError
from .errors import ConfigProblem as ConfigProblem
from .model import DEFAULT_POLICIES as DEFAULT_POLICIES
from .model import ConcurrencyConfig as ConcurrencyConfig
from .model import CrawlConfig as CrawlConfig
from .model import CrawlSettings as CrawlSettings
from .model import EventsConfig as EventsConfig
from .model import RateLimitConfig as RateLimitConfig
from .model import RetryConfig as RetryConfig
from .model import Strategy as Strategy
from .model import SystemConfig as SystemConfig
from .watch import watch_config as watch_config
