"""A StageError crosses a process boundary whole: pages parsed in a worker process
(`crawling.parsing`) send theirs back pickled, and the crawl classifies them by kind."""

import pickle

from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.stores.schema import StoreOpenError


def test_a_stage_error_pickles_whole() -> None:
    error = StageError(ErrorKind.rate_limited, "slow down", status=429, retry_after=2.5)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, copy.message, copy.status, copy.retry_after) == (
        ErrorKind.rate_limited,
        "slow down",
        429,
        2.5,
    )
    assert str(copy) == str(error) and repr(copy) == repr(error)


def test_a_stage_error_subclass_with_its_own_arguments_pickles_whole() -> None:
    error = StoreOpenError("/tmp/x.db", "locked: close the other program", ErrorKind.database_busy)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is StoreOpenError
    assert (copy.path, copy.kind, copy.message) == (
        "/tmp/x.db",
        ErrorKind.database_busy,
        "locked: close the other program",
    )
