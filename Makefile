# One task runner: the README and CI call these targets.
PY_BOOT ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test test-fast lint corpus model clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP) ## install everything into .venv

run: $(STAMP) ## run the pipeline on the shipped corpus into warehouse/compare.duckdb
	$(VENV)/bin/compare run --corpus corpora/provincial --warehouse warehouse/compare.duckdb

test: $(STAMP) ## the whole test suite (what CI runs)
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
