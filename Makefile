# `make demo` makes a real video offline; `make test` runs the suite. Each creates .venv first and
# installs only what it needs, once (a stamp per set of extras; pyproject.toml changes redo it):
#   demo        storynb + the `voice` extra (offline narration)
#   app, lab    + `notebook` (Jupyter, Voila, widgets) and `fast` (OpenCV warps), on first use
#   test        everything: + `test` (pytest, nbval, Playwright, Celery, ruff, mypy) and `celery`
# pip keeps its cache, so a second venv or a new extra installs from local wheels.
# --no-compile: Python compiles what it imports when it first runs; precompiling every installed
# module (pandas' own tests and the like) would add about 95 MB to the demo's venv.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_INSTALL := $(PY) -m pip install -q --disable-pip-version-check --no-compile
DEMO_STAMP := $(VENV)/.installed-demo
APP_STAMP := $(VENV)/.installed-app
STAMP := $(VENV)/.installed-stamp
TOPIC ?= A lighthouse keeper who befriends a lost whale during the longest storm of the year

.PHONY: demo test lint docs bench install clean

# Everything (what a developer and CI need).
install: $(STAMP)

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[test,notebook,voice,fast,celery]'
	touch $(STAMP) $(APP_STAMP) $(DEMO_STAMP)

$(APP_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[notebook,voice,fast]'
	touch $(APP_STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[voice]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/storynb run "$(TOPIC)"

# The linter and the type checker over the package (seconds), then the suite; the slowest tests are
# listed at the end so a growing suite shows where its time goes.
test: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(PY) -m pytest -q --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check storynb tests
	$(VENV)/bin/mypy storynb

# docs/cli.md is generated from the CLI's parser; tests/test_docs.py checks it is current.
docs: $(DEMO_STAMP)
	$(PY) docs/cli_reference.py

bench: $(STAMP)
	$(PY) bench/bench_render.py
	$(PY) bench/bench_fanout.py
	$(PY) bench/bench_workers.py
	$(PY) bench/bench_narration.py
	$(PY) bench/bench_app_start.py

clean:
	rm -rf $(VENV) data/studio.db* data/media data/exports

# The no-code app: notebooks/app.ipynb served by Voila. The studio (database and media) lives in
# data/, outside the served folder. On 127.0.0.1 no token is needed; bound to any other address
# (make app APP_HOST=0.0.0.0) a token is generated and printed. The other settings (page
# template without CDN requests, kernel culling, upload size) are in app/voila.py.
.PHONY: app lab
APP_HOST ?= 127.0.0.1
APP_PORT ?= 8866
STUDIO ?= $(CURDIR)/data/studio.db
APP_TOKEN_FLAG = $(if $(filter 127.0.0.1 localhost ::1,$(APP_HOST)),--Voila.token='',--token)

app: $(APP_STAMP)
	STORYNB_STUDIO="$(STUDIO)" JUPYTER_PATH="$(CURDIR)/app" $(VENV)/bin/voila notebooks/app.ipynb \
	  --no-browser --Voila.config_file_paths="$(CURDIR)/app" \
	  --Voila.ip=$(APP_HOST) --port=$(APP_PORT) $(APP_TOKEN_FLAG)

# JupyterLab on the notebooks, with the same studio (--allow-root only when run as root).
lab: $(APP_STAMP)
	STORYNB_STUDIO="$(STUDIO)" $(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --no-browser \
	  --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,)

