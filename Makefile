# Every target sets itself up: a local virtualenv in .venv is created (or reused) and the
# project installed into it from pyproject.toml. Nothing needs installing by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.nbsched-installed

.PHONY: setup test lint demo demo-script lab bench compat-aps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# APScheduler 3.11.3's own suite against nbsched (only tests listed in
# tests/compat/KNOWN_FAILURES.md may fail), the full suite on .venv's interpreter, then the
# browser-free subset on every other Python >= 3.10 the machine has, each in its own
# .cache/venvs/py3.X (scripts/test_matrix.py; NBSCHED_MATRIX=0 skips it). All three always
# run; any failing fails the target.
test: $(STAMP)
	bash scripts/services.sh
	$(VENV)/bin/ruff check .
	$(PY) scripts/compat_aps.py; compat=$$?; \
	$(PY) -m pytest; main=$$?; \
	$(PY) scripts/test_matrix.py; matrix=$$?; \
	test $$compat -eq 0 -a $$main -eq 0 -a $$matrix -eq 0

# The quickstart notebook, executed headless in a real kernel against the embedded SQLite store.
demo: $(STAMP)
	$(PY) scripts/demo_notebook.py

# Next fire times of a few triggers, no kernel involved.
demo-script: $(STAMP)
	$(PY) scripts/demo.py

# JupyterLab on the example notebooks.
lab: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,lab]'
	$(VENV)/bin/jupyter lab notebooks/

# APScheduler 3.11.3's own test suite, import prefix replaced, run against nbsched.
compat-aps: $(STAMP)
	bash scripts/services.sh redis
	$(PY) scripts/compat_aps.py

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
