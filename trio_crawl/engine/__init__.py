"""The engine: actors, one-shot results, typed errors, retry policy, events, sessions.

It knows nothing about HTTP, HTML, SQL or config files: stages and the planner are plugged in
from outside, and it takes its own settings value (`EngineSettings`). Importing it loads none
of httpx, lxml, sqlite3 or `trio_crawl.config`.
"""

from .accounting import Lost as Lost
from .commands import Cancel as Cancel
from .commands import ExecuteStage as ExecuteStage
from .commands import Pause as Pause
from .commands import ProcessBatch as ProcessBatch
from .commands import Resume as Resume
from .commands import Shutdown as Shutdown
from .control import StopRequest as StopRequest
from .handle import Session as Session
from .handle import open_session as open_session
from .oneshot import AlreadyReceivedError as AlreadyReceivedError
from .oneshot import AlreadySentError as AlreadySentError
from .oneshot import OneshotReceiver as OneshotReceiver
from .oneshot import OneshotSender as OneshotSender
from .oneshot import SenderClosedError as SenderClosedError
from .oneshot import oneshot as oneshot
from .planning import BatchesOnDemand as BatchesOnDemand
from .planning import Plan as Plan
from .planning import PlanContext as PlanContext
from .planning import Planner as Planner
from .planning import batches_of as batches_of
from .planning import static_planner as static_planner
from .results import ErrorKind as ErrorKind
from .results import FailedItem as FailedItem
from .results import FatalError as FatalError
from .results import Interrupted as Interrupted
from .results import PartialSuccess as PartialSuccess
from .results import StageError as StageError
from .results import StageResult as StageResult
from .results import StageStats as StageStats
from .results import Success as Success
from .retry import RetryCalculator as RetryCalculator
from .retry import RetryPolicy as RetryPolicy
from .retry import parse_retry_after as parse_retry_after
from .session import SessionHook as SessionHook
from .settings import EngineSettings as EngineSettings
from .settings import StageSettings as StageSettings
from .stage import Stage as Stage
from .summary import SessionStatus as SessionStatus
from .summary import SessionSummary as SessionSummary
