# One task runner: the README and CI call these targets.
PY_BOOT ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# Debian packages: chromium renders the committee report (HTML -> PDF, screenshots), the CJK
# fonts draw it and the sample PDFs, poppler-utils and qpdf serve the report and fixture tests.
DEBIAN_PACKAGES := chromium fonts-noto-cjk fonts-wqy-zenhei poppler-utils qpdf
SYSTEM_STAMP    := $(VENV)/.system-packages

.PHONY: setup system run test test-fast lint corpus model clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP) ## install everything into .venv

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
	$(PY) -m pytest

test-fast: $(STAMP) ## unit tests only: no real model, no flow
	$(PY) -m pytest -m "not model and not flow and not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check src flows tests scripts benchmarks
	$(VENV)/bin/mypy src

model: $(STAMP) ## build the offline default model into the cache
	$(VENV)/bin/compare model build

corpus: $(STAMP) ## re-render the sample corpus PDFs (needs Debian's fonts-wqy-zenhei)
	$(PY) scripts/render_corpus.py
