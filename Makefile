# kessai: two commands do all set-up on a fresh machine.
#   make run   — venv, install, migrate ./var/kessai.db, demo data, serve http://127.0.0.1:8000 (sandbox)
#   make test  — install what the tests need, lint, type-check, run the whole suite
#   make lock  — after changing dependencies in pyproject.toml: write requirements/*.txt again
# Both honour KESSAI_DATABASE_URL (e.g. postgresql://user@127.0.0.1:5432/kessai).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.runtime
LOCK_DIR := requirements
HOST ?= 127.0.0.1
PORT ?= 8000
# bench/ arrives with the benchmarks; ruff fails on a path that does not exist.
LINT_PATHS := src tests requirements $(wildcard bench)
export KESSAI_ENV ?= sandbox

.PHONY: run test lint typecheck pytest install clean system-deps lock

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "kessai には Python 3.11 以上が必要です (PYTHON=$(PYTHON))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) \
		|| { echo "venv を作れません: Debian/Ubuntu では python3-venv を入れてください" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files (requirements/*.txt, every package pinned with its
# hashes): runtime.txt for `make run`, test.txt (runtime + test tools) for `make test`.
# kessai itself is installed editable on top, without resolving anything again.
$(RUNTIME_STAMP): pyproject.toml $(LOCK_DIR)/runtime.txt | $(BIN)/python
	@$(PYTHON) $(LOCK_DIR)/lock.py check
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK_DIR)/runtime.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml $(LOCK_DIR)/test.txt | $(BIN)/python
	@$(PYTHON) $(LOCK_DIR)/lock.py check
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK_DIR)/test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP) $(RUNTIME_STAMP)

install: $(STAMP)

# After changing dependencies in pyproject.toml: writes both lock files again (uv, from the
# test lock), then `make test` installs from them.
lock: | $(BIN)/python
	$(BIN)/python $(LOCK_DIR)/lock.py

# What the tests need from the system: OpenSSH's sshd (a real SFTP server on loopback) and
# Debian's chromium (Playwright drives it for the admin screens). Installed only when
# missing, and only where we may (root with apt-get); elsewhere those tests say why they skip.
SYSTEM_NEEDS := /usr/sbin/sshd:openssh-server /usr/bin/chromium:chromium \
	/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:fonts-noto-cjk
system-deps:
	@missing=""; for need in $(SYSTEM_NEEDS); do \
		[ -e "$${need%%:*}" ] || missing="$$missing $${need#*:}"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "not installed (need root and apt-get):$$missing" >&2; fi; \
	fi

run: $(RUNTIME_STAMP)
	@$(BIN)/kessai db upgrade
	@$(BIN)/kessai demo --host $(HOST) --port $(PORT)
	@$(BIN)/kessai serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: install
	$(BIN)/mypy --strict src

# The suite on two workers (pytest-xdist): much of it waits on loopback servers, processes
# and the database, so two share a two-core machine well. Tests that need a module's server
# or the fault suite's private servers run on one worker (tests/conftest.py, ONE_WORKER).
TEST_WORKERS ?= 2
pytest: install system-deps
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
