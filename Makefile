# Two commands a newcomer needs: `make lab` (open the tutorial) and `make test` (run everything).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := arseg-tutorial
PROFILE ?= laptop

.PHONY: lab test book setup clean-cache

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --user --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null
	touch $(STAMP)

lab: $(STAMP)
	ARSEG_PROFILE=$(PROFILE) $(VENV)/bin/jupyter lab notebooks/

test: $(STAMP)
	ARSEG_PROFILE=ci $(PY) -m pytest

book: $(STAMP)
	mkdir -p build/book
	ARSEG_PROFILE=$(PROFILE) $(VENV)/bin/jupyter nbconvert --to html --execute \
		--ExecutePreprocessor.timeout=1800 --output-dir build/book notebooks/*.ipynb

clean-cache:
	rm -rf .cache
