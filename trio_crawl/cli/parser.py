"""The `trio-crawl` command's arguments: its parser, and the checks its options' values pass
before any command runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from ..demo.catalogue import add_change_option
from ..demo.latency import add_latency_option

DB_HELP = "SQLite file, sqlite:///path, or postgresql://user:password@host:port/database"


class UsageError(Exception):
    """Bad command-line input; reported on one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Options are spelled out (`--base-ur` is not `--base-url`: an abbreviation that a new
    option would make ambiguous is a script broken later), and a mistyped command or option
    gets the close matches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message + _close_matches(message, self))


def _close_matches(message: str, parser: argparse.ArgumentParser) -> str:
    """ "; did you mean …?" for an invalid choice or an unknown option in argparse's `message`."""
    import difflib
    import re

    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice is not None:
        wrong, known = choice.group(1), re.findall(r"'([^']*)'", choice.group(2))
    else:
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if unknown is None:
            return ""
        wrong, known = unknown.group(1), list(parser._option_string_actions)
        for action in parser._actions:  # the commands' own options are its subparsers'
            if isinstance(action, argparse._SubParsersAction):
                for command in action.choices.values():
                    known += list(command._option_string_actions)
    close = difflib.get_close_matches(wrong, list(dict.fromkeys(known)), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def _whole_number(text: str, what: str, accept: range, out_of_range: str) -> int:
    """The argparse `type=` check both number options share; messages name `text`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if value not in accept:
        raise argparse.ArgumentTypeError(out_of_range.format(text=repr(text)))
    return value


def positive_int(text: str) -> int:
    """argparse `type=`: a whole number of at least 1 (a catalogue size)."""
    return _whole_number(text, "a whole number", range(1, sys.maxsize), "{text} must be at least 1")


def listen_port(text: str) -> int:
    """argparse `type=`: a TCP port to listen on, 0..65535 (0 = any free port)."""
    return _whole_number(
        text, "a port number", range(65536), "port {text} is out of range: give 0..65535 (0 = any)"
    )


def base_url(text: str) -> str:
    """argparse `type=`: an http(s) URL with a host and, if given, a port 1..65535."""
    hint = "give e.g. http://127.0.0.1:8000"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid URL ({exc}); {hint}") from None
    if parts.scheme not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL; {hint}")
    if not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} has no host; {hint}")
    if port is not None and not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} has port {port}, not 1..65535; {hint}")
    return text


def version() -> str:
    """The installed distribution's version (the package's own `__version__` otherwise)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("trio-crawl")
    except PackageNotFoundError:
        import trio_crawl

        return str(getattr(trio_crawl, "__version__", "unknown"))


def _add_logging_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """-v/-q/--log-file, accepted before the command and after it (`default` SUPPRESS there,
    so a command's parser never overwrites what was given before it)."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="also log every batch"
    )
    loudness.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="log warnings only"
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None if default is not argparse.SUPPRESS else default,
        metavar="FILE",
        help="write one line per session event (timestamp, level, session id) to FILE",
    )


def web_address(text: str) -> Any:
    """argparse `type=`: ``PORT`` or ``HOST:PORT`` for the web page (0 = any free port)."""
    from ..ui.web.server import WebAddress, WebAddressError

    try:
        return WebAddress.parse(text)
    except WebAddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_web_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web",
        type=web_address,
        metavar="[HOST:]PORT",
        help="serve a live page of the crawl (0 = any free port; the URL with its token is"
        " printed; host 127.0.0.1 unless given)",
    )
    parser.add_argument(
        "--keep-serving",
        action="store_true",
        help="with --web: keep the page up after the crawl ends, until Ctrl-C",
    )


def _add_markup_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--markup",
        choices=("nested", "block", "flat"),
        default="nested",
        help="how list pages lay out their cards (nested, as the live site does)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trio-crawl", description="Crawl paginated catalogues with trio.")
    parser.add_argument("--version", action="version", version=f"trio-crawl {version()}")
    _add_logging_options(parser, default=False)
    common = _Parser(add_help=False)
    _add_logging_options(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    demo = commands.add_parser(
        "demo", parents=[common], help="serve the demo catalogue and crawl it into SQLite"
    )
    demo.add_argument(
        "--site",
        choices=("matter", "bookshop"),
        default="matter",
        help="which demo catalogue to crawl (matter; bookshop: books listed oldest first)",
    )
    demo.add_argument("--products", type=positive_int, default=3000, help="catalogue size (3000)")
    demo.add_argument("--seed", type=int, default=7, help="catalogue seed (7)")
    demo.add_argument("--db", default="demo.db", help=DB_HELP + " (demo.db)")
    demo.add_argument("--faults", choices=("low", "none"), default="low", help="faults (low)")
    demo.add_argument("--config", type=Path, help="TOML config (demo defaults otherwise)")
    demo.add_argument("--no-dashboard", action="store_true", help="print only the summary")
    _add_markup_option(demo)
    _add_web_options(demo)

    crawl = commands.add_parser("crawl", parents=[common], help="crawl a catalogue into SQLite")
    crawl.add_argument("--config", type=Path, help="TOML config file")
    crawl.add_argument("--base-url", type=base_url, required=True, help="catalogue base URL")
    crawl.add_argument(
        "--site",
        default="matter",
        metavar="SITE",
        help="package.module:factory of the site, called with the base URL and the config's"
        " [site] options (matter: the Matter catalogue, the default; bookshop: the demo shop)",
    )
    crawl.add_argument("--db", required=True, help=DB_HELP)
    crawl.add_argument("--no-dashboard", action="store_true", help="print only the summary")
    _add_web_options(crawl)

    from .distributed import DEFAULT_QUEUE, add_commands, add_crawl_options, add_status_options
    from .steer import add_commands as add_steer_commands

    add_crawl_options(crawl, positive_int)
    add_commands(commands, common, base_url, DB_HELP)
    add_steer_commands(commands, common, DEFAULT_QUEUE)

    export = commands.add_parser("export", parents=[common], help="export stored products")
    export.add_argument("--db", required=True, help=DB_HELP)
    export.add_argument("--format", choices=("jsonl", "csv"), required=True)
    export.add_argument("--out", type=Path, help="output file (stdout otherwise)")

    status = commands.add_parser(
        "status", parents=[common], help="show how far the crawl stored in a database got"
    )
    status.add_argument("--db", required=True, help=DB_HELP)
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    status.add_argument(
        "--failures", action="store_true", help="list every failed item (the first 10 otherwise)"
    )
    add_status_options(status)

    web = commands.add_parser(
        "web", parents=[common], help="serve the status of a database as a web page"
    )
    web.add_argument("--db", required=True, help=DB_HELP)
    web.add_argument(
        "--web",
        type=web_address,
        default=None,
        metavar="[HOST:]PORT",
        help="where to serve (127.0.0.1:8765; 0 = any free port)",
    )
    web.add_argument(
        "--redis", help="redis://host:port/db: show the whole Redis-shared crawl, every worker"
    )
    web.add_argument("--queue", default="trio-crawl", help="with --redis: the crawl's key prefix")

    serve = commands.add_parser(
        "serve-demo", parents=[common], help="serve the demo catalogue on 127.0.0.1"
    )
    serve.add_argument("--port", type=listen_port, default=8000, help="port (8000; 0 = any free)")
    serve.add_argument("--products", type=positive_int, default=4000, help="catalogue size (4000)")
    serve.add_argument("--seed", type=int, default=7, help="catalogue seed (7)")
    serve.add_argument(
        "--books", type=positive_int, default=47, help="bookshop size under /books/ (47)"
    )
    serve.add_argument("--faults", choices=("low", "none"), default="none", help="faults (none)")
    _add_markup_option(serve)
    add_change_option(serve)
    add_latency_option(serve)
    return parser
