"""trio_crawl: crawl paginated catalogues into validated records with trio structured concurrency.

The public surface is this file; everything else is private or lives in a subpackage
(`trio_crawl.sites`, `trio_crawl.stores`, `trio_crawl.demo`, `trio_crawl.engine`).
"""

from .api import crawl as crawl
from .api import open_session as open_session
from .config import ConfigError as ConfigError
from .config import CrawlConfig as CrawlConfig
from .engine import ErrorKind as ErrorKind
from .engine import FailedItem as FailedItem
from .engine import FatalError as FatalError
from .engine import PartialSuccess as PartialSuccess
from .engine import RecoverableError as RecoverableError
from .engine import RetryCalculator as RetryCalculator
from .engine import RetryPolicy as RetryPolicy
from .engine import Session as Session
from .engine import SessionStatus as SessionStatus
from .engine import SessionSummary as SessionSummary
from .engine import Stage as Stage
from .engine import StageError as StageError
from .engine import StageResult as StageResult
from .engine import Success as Success
from .engine import events as events
from .engine import oneshot as oneshot

__version__ = "0.1.0"
