# `make demo` makes a real video offline; `make test` runs the suite. Both create .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TOPIC ?= A lighthouse keeper who befriends a lost whale during the longest storm of the year

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/storynb run "$(TOPIC)"

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_render.py

clean:
	rm -rf $(VENV) data/studio.db* data/media data/exports
