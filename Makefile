# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   runs the hub and six simulated unit boxes (市本级 and five districts)
#   make test   runs the test suite
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
# pytest-xdist workers (one per core); a test module stays on one worker (its fixtures once).
PYTEST_WORKERS ?= auto

.PHONY: demo test bench clean schema

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet pip==26.3 setuptools==84.2.1 wheel==0.48.0
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hallwatch demo $(DEMO_ARGS)

# The tests start hundreds of hallwatch processes: byte-compile the packages first, or where
# PYTHONDONTWRITEBYTECODE is set each process compiles some 150 modules from source again.
test: $(STAMP)
	$(VENV)/bin/python -m compileall -q standard edge hub web provisioning hallwatch
	$(VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

bench: $(STAMP)
	for b in bench/bench_*.py; do $(VENV)/bin/python -m bench.$$(basename $$b .py) || exit 1; done

schema: $(STAMP)
	$(VENV)/bin/python -m standard.documents

clean:
	rm -rf $(VENV) .demo
