# One task runner: the README and CI call these targets.
PY_BOOT ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
LOCK    := requirements.lock
PIP_VERSION := 26.3
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha1sum | cut -c1-12)

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# Debian packages: chromium renders the committee report (HTML -> PDF, screenshots), the CJK
# fonts draw it and the sample PDFs, poppler-utils and qpdf serve the report and fixture tests.
DEBIAN_PACKAGES := chromium fonts-noto-cjk fonts-wqy-zenhei poppler-utils qpdf
SYSTEM_STAMP    := $(VENV)/.system-packages

.PHONY: setup system run test test-fast lint corpus model clean-venv lock

# Installs come from the lock: every package, transitive ones included, at the version the
# suite passed with. torch goes first, as the CPU build (see pyproject.toml).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m compare.lockfile $(LOCK)
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP) ## install everything into .venv, from the lock

# Re-resolve pyproject.toml's pins into a fresh venv and write every installed version to the
# lock; then run `make test` on it (docs: README, "Installs").
LOCK_VENV := .venv-lock
lock: ## refresh requirements.lock from pyproject.toml
	rm -rf $(LOCK_VENV) && $(PY_BOOT) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip==$(PIP_VERSION)
	$(LOCK_VENV)/bin/pip install --quiet torch==2.13.0
	$(LOCK_VENV)/bin/pip install --quiet -e '.[dev]'
	$(LOCK_VENV)/bin/python -m compare.lockfile --write $(LOCK)
	rm -rf $(LOCK_VENV)

$(SYSTEM_STAMP):
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then mkdir -p $(VENV) && touch $@; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null && mkdir -p $(VENV) && touch $@; \
	else echo "missing Debian packages ($$missing): the report tests will be skipped; install them as root"; fi

system: $(SYSTEM_STAMP) ## install the Debian packages the report and fixture tests use

run: $(STAMP) ## run the pipeline on the shipped corpus into warehouse/compare.duckdb
	$(VENV)/bin/compare run --corpus corpora/provincial --warehouse warehouse/compare.duckdb

test: $(STAMP) $(SYSTEM_STAMP) ## the whole test suite (what CI runs)
	$(PY) -m pytest --durations=20

test-fast: $(STAMP) ## the inner loop, under a minute: no real model, no flow, nothing marked slow
	$(PY) -m pytest -m "not model and not flow and not slow" --durations=10

LINTED := src flows tests scripts benchmarks
lint: $(STAMP) ## ruff (rules and formatting) over the tree, mypy over the package (what CI runs first)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy src

model: $(STAMP) ## build the offline default model into the cache
	$(VENV)/bin/compare model build

corpus: $(STAMP) ## re-render the sample corpus PDFs (needs Debian's fonts-wqy-zenhei)
	$(PY) scripts/render_corpus.py
