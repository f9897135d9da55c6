# The two quick-start commands: `make demo` and `make test`. Each creates .venv and installs
# what it needs, so both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The package's folders: adding or removing a module changes one, and reinstalls (see below).
PACKAGE_DIRS := $(shell find trio_crawl -type d -not -name __pycache__)

.PHONY: demo test test-fast lint bench clean browser postgres redis netns

# A strict editable install: site-packages gets a plain path to a tree of symlinks under build/
# (setuptools' default import hook is invisible to mypy and other type checkers, so a program
# type-checked in this venv would not find trio_crawl). Edits show at once; a new module shows
# after a reinstall, which the PACKAGE_DIRS prerequisite triggers.
$(STAMP): pyproject.toml $(PACKAGE_DIRS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]' --config-settings editable_mode=strict
	touch $(STAMP)

# `make demo WEB=8765` also serves the live page on 127.0.0.1:8765 (the URL with its token is
# printed) and keeps it up after the crawl, until Ctrl-C.
demo: $(STAMP)
	$(BIN)/trio-crawl demo $(if $(WEB),--web $(WEB) --keep-serving)

# ruff, mypy --strict over the package, its tests and benchmarks, and the layer rules
# ([tool.importlinter] in pyproject.toml: what each package may import).
lint: $(STAMP)
	$(BIN)/ruff check trio_crawl tests benchmarks
	$(BIN)/mypy trio_crawl tests benchmarks
	$(BIN)/lint-imports

# The web page's tests drive the OS's Chromium (Debian's `chromium`) with Playwright; nothing is
# downloaded at test time. Installed once (CI runs as root); where it cannot be, the browser
# tests skip, saying so.
browser:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y chromium) || echo "WARNING: chromium not installed: the browser tests will be SKIPPED"

# The PostgreSQL store's tests start their own server (tests/postgres_server.py) from the OS's
# PostgreSQL: installed once where initdb is neither on PATH nor in /usr/lib/postgresql/*/bin.
# Where it cannot be, those tests skip, saying so.
PG_INITDB = $(firstword $(shell command -v initdb) $(wildcard /usr/lib/postgresql/*/bin/initdb))
postgres:
	@test -n "$(PG_INITDB)" || (apt-get update && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y postgresql) || echo "WARNING: PostgreSQL not installed: the PostgreSQL tests will be SKIPPED"

# The distributed crawl's tests (Redis Streams) start their own redis-server
# (tests/redis_server.py): installed once where it is not on PATH. Where it cannot be, those
# tests skip, saying so.
redis:
	@command -v redis-server >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y redis-server) || echo "WARNING: redis-server not installed: the Redis tests will be SKIPPED"

# The test of workers on separate hosts puts each in a network namespace of its own
# (tests/netns.py), made with iproute2's `ip`: installed once where it is not on PATH. Where it
# cannot be (or the machine forbids namespaces: not root, a container), that test skips, saying so.
netns:
	@command -v ip >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y iproute2) || echo "WARNING: iproute2 not installed: the separate-hosts test will be SKIPPED"

# One pytest worker per core (pytest-xdist): one pytest process keeps about one core busy, so a
# second core would otherwise sit idle. Work stealing keeps both busy to the end, where the long
# crawls through the command line would otherwise queue on one worker; tests/slow_first.py puts
# the longest tests (tests/durations.json, re-recorded with `--record-durations
# tests/durations.json`) at the front of each worker's share, so the last to run are short.
PYTEST_WORKERS := -n auto --dist worksteal

test: $(STAMP) lint browser postgres redis netns
	$(BIN)/python -m pytest -q $(PYTEST_WORKERS)

# For the edit-test loop: everything but the tests marked slow (crawl processes started and
# killed, whole crawls through the command line, real timeouts). `make test` runs those too.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_WORKERS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
