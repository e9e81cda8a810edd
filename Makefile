# `make demo` makes a real video offline; `make test` runs the suite. Both create .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TOPIC ?= A lighthouse keeper who befriends a lost whale during the longest storm of the year

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,notebook,voice]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/storynb run "$(TOPIC)"

test: $(STAMP)
	$(VENV)/bin/ruff check storynb tests
	$(VENV)/bin/mypy storynb
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_render.py
	$(PY) bench/bench_fanout.py
	$(PY) bench/bench_workers.py
	$(PY) bench/bench_narration.py

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

app: $(STAMP)
	STORYNB_STUDIO="$(STUDIO)" JUPYTER_PATH="$(CURDIR)/app" $(VENV)/bin/voila notebooks/app.ipynb \
	  --no-browser --Voila.config_file_paths="$(CURDIR)/app" \
	  --Voila.ip=$(APP_HOST) --port=$(APP_PORT) $(APP_TOKEN_FLAG)

# JupyterLab on the notebooks, with the same studio (--allow-root only when run as root).
lab: $(STAMP)
	STORYNB_STUDIO="$(STUDIO)" $(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --no-browser \
	  --ServerApp.ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,)

