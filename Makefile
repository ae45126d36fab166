# Two commands a newcomer needs: `make lab` (open the tutorial) and `make test` (run everything).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := arseg-tutorial
PROFILE ?= laptop

.PHONY: lab test book book-check setup clean-cache

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

# The executed notebooks as an offline book (Sphinx + MyST-NB); `make book PROFILE=ci` is fast.
book: $(STAMP)
	$(PY) book/build.py --profile $(PROFILE)

# The built book in headless Chromium: links, formulas, widgets, no network; screenshots.
book-check: $(STAMP)
	$(PY) book/check.py build/book --screenshots build/book-check

clean-cache:
	rm -rf .cache
