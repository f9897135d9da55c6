"""`ConfigError`: what is wrong with a configuration, as data and as a message.

The whole tree::

    ValueError
    └── ConfigError          raised by CrawlConfig.load / from_dict, by constructing a section
                             with a bad value, and by `for_stage` with an unknown stage name;
                             carries one or more ConfigProblem

Each `ConfigProblem` says *where* (a dotted path such as ``retry.saving.max_attempts``), *what*
(the bad value), *what would do* (``expected``, human text) and, where a close spelling exists,
a suggestion. A problem is one of three kinds:

- ``invalid``: a known key with a value outside what it allows
  (``crawl.batch_size: 0 is not allowed; expected an integer ≥ 1``);
- ``unknown_key`` / ``unknown_section``: a name the configuration does not have
  (``crawl.page_range_limt: unknown key; did you mean 'page_range_limit'?``);
- ``unreadable``: the file itself could not be read or is not TOML.

`ConfigError` subclasses `ValueError`, so it fits where attrs validators raise, and a caller
that only cares "was the input bad" can catch `ValueError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeAlias

import attrs

ProblemKind: TypeAlias = Literal["invalid", "unknown_key", "unknown_section", "unreadable"]


def did_you_mean(word: object, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to `word`, if `word` is a string and one is close enough."""
    if not isinstance(word, str):
        return None
    import difflib  # here: only a bad config asks

    matches = difflib.get_close_matches(word, list(choices), n=1)
    return matches[0] if matches else None


def one_of(choices: Iterable[str], what: str = "") -> str:
    """Human text listing the allowed names, for `expected`."""
    listed = ", ".join(repr(c) for c in choices)
    return f"one of the {what} {listed}" if what else f"one of {listed}"


@attrs.frozen
class ConfigProblem:
    """One thing wrong with a configuration; `ConfigError` carries one or more of these.

    ``origin`` says where the value came from (``file crawl.toml``,
    ``environment variable TRIO_CRAWL__CRAWL__BATCH_SIZE``) when that is known.

    .. versionadded:: 0.1
    """

    path: str
    value: Any
    expected: str
    suggestion: str | None = None
    origin: str | None = None
    kind: ProblemKind = "invalid"
    detail: str = ""

    def message(self) -> str:
        """One line naming the path, the value (or the unknown name), what is allowed and hints."""
        if self.kind == "unreadable":
            text = f"{self.path or self.value}: {self.detail}; expected {self.expected}"
            return text
        where = self.path or "<config>"
        if self.kind == "invalid":
            text = f"{where}: {self.value!r} is not allowed; expected {self.expected}"
            if self.suggestion is not None:
                text += f"; did you mean {self.suggestion!r}?"
        else:
            noun = "key" if self.kind == "unknown_key" else "section"
            text = f"{where}: unknown {noun}"
            if self.suggestion is not None:
                text += f"; did you mean {self.suggestion!r}?"
            else:
                text += f"; expected {self.expected}"
        if self.origin is not None:
            text += f" (from {self.origin})"
        return text

    def under(self, prefix: str) -> ConfigProblem:
        """This problem seen from the enclosing table `prefix` (paths are built inside out)."""
        if not prefix:
            return self
        return attrs.evolve(self, path=f"{prefix}.{self.path}" if self.path else prefix)


def unknown_name(
    name: str, value: object, allowed: Sequence[str], *, section: bool = False
) -> ConfigProblem:
    """The problem for a key or table name the configuration does not have."""
    return ConfigProblem(
        path=name,
        value=value,
        expected=one_of(allowed, "sections" if section else "keys"),
        suggestion=did_you_mean(name, allowed),
        kind="unknown_section" if section else "unknown_key",
    )


class ConfigError(ValueError):
    """A configuration value, key, section or file is not acceptable.

    `path`, `value`, `expected`, `suggestion` and `origin` describe the first problem;
    `problems` holds all of them (the message lists each on its own line), so one run reports
    everything wrong with a file instead of one problem per attempt.

    .. versionadded:: 0.1
    """

    problems: tuple[ConfigProblem, ...]

    def __init__(
        self,
        path: str,
        value: object,
        expected: str,
        *,
        suggestion: str | None = None,
        origin: str | None = None,
    ) -> None:
        problem = ConfigProblem(
            path=path, value=value, expected=expected, suggestion=suggestion, origin=origin
        )
        self._set_problems((problem,))

    @classmethod
    def from_problems(cls, problems: Iterable[ConfigProblem]) -> ConfigError:
        """One error reporting every problem, in the order given (the first is `.path`)."""
        collected = tuple(problems)
        if not collected:
            raise ValueError("a ConfigError needs at least one problem")
        error = cls.__new__(cls)
        error._set_problems(collected)
        return error

    def _set_problems(self, problems: tuple[ConfigProblem, ...]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.message() for p in problems))

    def __reduce__(self) -> tuple[Any, ...]:
        # The constructor takes one problem's fields, not the message, so rebuild from data.
        return (ConfigError.from_problems, (self.problems,))

    @property
    def path(self) -> str:
        """Dotted path of the first problem, e.g. ``retry.saving.max_attempts``."""
        return self.problems[0].path

    @property
    def value(self) -> Any:
        """The offending value (or, for an unknown name, the value given under it)."""
        return self.problems[0].value

    @property
    def expected(self) -> str:
        """What the first problem's path allows, as human text."""
        return self.problems[0].expected

    @property
    def suggestion(self) -> str | None:
        """A close valid spelling, when there is one."""
        return self.problems[0].suggestion

    @property
    def origin(self) -> str | None:
        """Where the first problem's value came from (a file or an environment variable)."""
        return self.problems[0].origin
