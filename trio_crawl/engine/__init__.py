"""The engine: actors, one-shot results, typed errors, retry policy, events, sessions.

It knows nothing about HTTP, HTML or SQL; stages and the planner are plugged in from outside.
"""

from .actor import Child as Child
from .actor import spawn as spawn
from .commands import Cancel as Cancel
from .commands import ExecuteStage as ExecuteStage
from .commands import Pause as Pause
from .commands import ProcessBatch as ProcessBatch
from .commands import Resume as Resume
from .commands import Shutdown as Shutdown
from .oneshot import AlreadyReceivedError as AlreadyReceivedError
from .oneshot import AlreadySentError as AlreadySentError
from .oneshot import OneshotReceiver as OneshotReceiver
from .oneshot import OneshotSender as OneshotSender
from .oneshot import SenderClosedError as SenderClosedError
from .oneshot import oneshot as oneshot
from .results import ErrorKind as ErrorKind
from .results import FailedItem as FailedItem
from .results import FatalError as FatalError
from .results import PartialSuccess as PartialSuccess
from .results import RecoverableError as RecoverableError
from .results import StageError as StageError
from .results import StageResult as StageResult
from .results import StageStats as StageStats
from .results import Success as Success
from .retry import DEFAULT_POLICIES as DEFAULT_POLICIES
from .retry import RetryCalculator as RetryCalculator
from .retry import RetryPolicy as RetryPolicy
from .retry import parse_retry_after as parse_retry_after
from .session import PlanContext as PlanContext
from .session import Session as Session
from .session import SessionStatus as SessionStatus
from .session import SessionSummary as SessionSummary
from .session import open_session as open_session
from .stage import Stage as Stage
