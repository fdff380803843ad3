# Two commands on a fresh machine: `make book` and `make test`. Everything else is set up on demand.
SHELL := /bin/bash
PY    := .venv/bin/python
STAMP := .venv/.installed

.PHONY: setup test data clean-venv

# .venv is (re)installed whenever pyproject.toml changes.
setup: $(STAMP)
$(STAMP): pyproject.toml
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m ex2 fetch-data

test: $(STAMP)
	$(PY) -m pytest

clean-venv:
	rm -rf .venv
