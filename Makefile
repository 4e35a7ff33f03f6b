# Two commands on a fresh machine: `make serve` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= test

.PHONY: install browser serve test lint typecheck pytest bench bench-whisper bench-mixed bench-soak clean

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

install: $(VENV)/.installed-$(EXTRAS)

serve:
	$(MAKE) install EXTRAS=whisper
	$(VENV)/bin/polyvox serve

test: install browser lint typecheck pytest

# The web UI tests drive Debian's chromium with its chromedriver (nothing downloads a browser)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver fonts-liberation >/dev/null; }

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest

bench: install
	$(PY) bench/piper_bench.py --write docs/benchmarks.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

bench-whisper: install
	$(PY) bench/whisper_bench.py --write docs/benchmarks.md

bench-mixed: install
	$(PY) bench/mixed_bench.py --write docs/benchmarks.md

bench-soak: install
	$(PY) bench/soak_bench.py --write docs/benchmarks.md
