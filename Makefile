# Two commands on a fresh machine: `make book` and `make test`. Everything else is set up on demand.
SHELL := /bin/bash
PY    := .venv/bin/python
STAMP := .venv/.installed

# `make book` prints each phase with the time since it started ("book [3:05] prepare: done"), so
# that one run's output is its own per-phase table. Sub-makes inherit the start time.
ifndef BOOK_T0
BOOK_T0 := $(shell date +%s)
endif
export BOOK_T0
phase = t=$$(( $$(date +%s) - $(BOOK_T0) )); printf 'book [%d:%02d] %s\n' $$((t / 60)) $$((t % 60)) "$(1)"

.PHONY: setup test data bench clean-venv book html pdf chapter clean-book tex test-deps prepare mutation fingerprint FORCE

# .venv is (re)installed whenever pyproject.toml changes.
setup: $(STAMP)
$(STAMP): pyproject.toml
	@$(call phase,venv: installing the packages of pyproject.toml)
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(STAMP)
	@$(call phase,venv: done)

data: $(STAMP)
	$(PY) -m ex2 fetch-data

# The suite includes a smoke build of the book, HTML and PDF, read back with poppler and opened in
# headless Chromium (tests/test_book.py, test_pdf.py, test_browser.py): their Debian packages first
# (without them the other tests still run, and those fail saying what is missing).
# One formatter and linter for the whole tree first, then the suite.
test: $(STAMP)
	@$(MAKE) --no-print-directory test-deps || echo "warning: no TeX or Chromium: the book tests will fail" >&2
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m pytest

clean-venv:
	rm -rf .venv

# Speed lives here, not in timed tests: exercise pipeline vs ours, alternating, medians -> bench/results.json.
bench: $(STAMP)
	$(PY) -m ex2.bench

# Plant realistic one-line bugs in the chapter, measurement and verify code, one at a time, and
# check that the build's claims and checks catch them (needs the full cache; 20-40 min).
mutation: $(STAMP)
	$(PY) tests/mutation.py

# --------------------------------------------------------------------------- the book
# `make book` = HTML + PDF. Real file targets: with nothing changed, a second `make book` does
# nothing. OUT=<dir> builds into <dir>/_build instead of ./_build (the smoke test uses it).
OUT       ?= .
BUILD     := $(OUT)/_build
JB        := .venv/bin/jupyter-book
# -W + --keep-going: every warning (a failing cell included) fails the build, after reporting all.
# --all: re-read every page, so pages whose source did not change still pick up new results.
JB_FLAGS  := --warningiserror --keep-going --all --path-output $(OUT)
BOOK_SRC  := _config.yml _toc.yml references.bib \
             $(wildcard book/*.md book/_ext/*.py book/_ext/templates/* book/_static/* bench/*.json)
CODE_SRC  := $(sort $(wildcard ex2/*.py ex2/chapters/*.py verify/*.py))
HTML_OK   := $(BUILD)/html/.built
PDF       := $(BUILD)/ex2-book.pdf
PDF_HTML  := $(BUILD)/html/_static/ex2-book.pdf
STATE     := $(BUILD)/.build-state
TEX_PKGS  := texlive-xetex texlive-fonts-recommended fonts-freefont-otf latexmk poppler-utils
BROWSER_PKGS := chromium-headless-shell
# jupyter-book runs `make` for the PDF: keep our make's flags and variables out of it. The pages
# import this checkout's ex2, even where .venv holds an editable install of another clone.
JB_ENV    := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PYTHONPATH=$(CURDIR) LATEXOPTS="-interaction=nonstopmode -halt-on-error"

# jupyter-cache keys on code cells only. What else changes cell outputs is fingerprinted: the
# ex2/verify source, the profile, the runs and data folders, and every file the pages read (each
# run's metrics.json, which holds its checkpoint's SHA-256; each cached measurement; the bench
# results; python -m ex2 rerun or make bench change them). A new fingerprint empties the cache.
INPUTS_HASH = { $(PY) -c 'from ex2 import chapters; print(*chapters.input_files(), sep="\n")' \
                  || echo "listing the inputs failed"; } | \
              while read -r f; do sha256sum "$$f" 2>/dev/null || echo "missing $$f"; done | \
              cat - <(sha256sum $(wildcard bench/*.json) /dev/null) | sha256sum | cut -c1-64
FINGERPRINT = { echo "profile=$${EX2_PROFILE:-full} runs=$${EX2_RUNS_DIR:-} data=$${EX2_DATA_ROOT:-}"; \
                echo "inputs=$$($(INPUTS_HASH))"; sha256sum $(CODE_SRC) /dev/null; } | \
              sha256sum | cut -c1-64
fingerprint:
	@$(FINGERPRINT)

clear_stale_cache = fp=$$($(FINGERPRINT)); \
  if [ "$$fp" != "$$(cat $(BUILD)/.code-fingerprint 2>/dev/null)" ]; then \
    echo "book: ex2/, verify/, the pages' input files or the EX2_* settings changed: clearing the notebook cache"; \
    rm -rf $(BUILD)/.jupyter_cache; \
  fi

# Phases, each stamped: MNIST, then training and measuring what the book needs (with progress)
# while the TeX packages install in the background, then the pages, which only read the cache
# (EX2_CACHE_ONLY=1).
book: $(STAMP)
	@mkdir -p $(BUILD); \
	$(call phase,data: fetching and checking MNIST); \
	$(PY) -m ex2 fetch-data || exit 1; \
	$(call phase,tex: installing in the background (log: $(BUILD)/system-packages.log)); \
	( ( $(install_tex) ); rc=$$?; $(call phase,tex: done); exit $$rc ) \
	  > $(BUILD)/system-packages.log 2>&1 & deps=$$!; \
	$(call phase,prepare: training and measuring); \
	$(PY) -m ex2 prepare --record $(BUILD)/prepare-record.jsonl; status=$$?; \
	$(call phase,prepare: done); \
	if ! wait $$deps; then cat $(BUILD)/system-packages.log >&2; exit 1; fi; \
	grep -h '^book \[' $(BUILD)/system-packages.log; \
	[ $$status -eq 0 ] || exit $$status
	@$(MAKE) --no-print-directory $(PDF_HTML)
	@$(call phase,book: done)
html: prepare $(HTML_OK)
pdf: prepare $(PDF)

prepare: $(STAMP)
	$(PY) -m ex2 prepare

# Rewritten only when the profile, folders, authors, git commit or the pages' input files change,
# so that those rebuild the book too.
$(STATE): FORCE
	@mkdir -p $(BUILD); \
	s="profile=$${EX2_PROFILE:-full} runs=$${EX2_RUNS_DIR:-} data=$${EX2_DATA_ROOT:-} authors=$${EX2_AUTHORS:-} commit=$$(git rev-parse HEAD 2>/dev/null || echo none) inputs=$$($(INPUTS_HASH))"; \
	if [ "$$s" != "$$(cat $@ 2>/dev/null)" ]; then echo "$$s" > $@; fi

$(HTML_OK): $(BOOK_SRC) $(CODE_SRC) $(STAMP) $(STATE)
	@$(call phase,html: building the pages)
	@set -e; $(clear_stale_cache); \
	rm -f $@; \
	EX2_CACHE_ONLY=1 $(JB_ENV) $(JB) build . $(JB_FLAGS) < /dev/null; \
	echo "$$fp" > $(BUILD)/.code-fingerprint; \
	touch $@
	@$(call phase,html: done: $(BUILD)/html/index.html)

# latexmk remembers a failed run: after a failure, the next PDF build starts from a fresh _build/latex.
$(PDF): $(BOOK_SRC) $(CODE_SRC) $(STAMP) $(STATE) | tex
	@$(call phase,pdf: building)
	@set -e; $(clear_stale_cache); \
	if [ -e $(BUILD)/.latex-failed ]; then rm -rf $(BUILD)/latex $(BUILD)/.latex-failed; fi; \
	if ! EX2_CACHE_ONLY=1 $(JB_ENV) $(JB) build . --builder pdflatex $(JB_FLAGS) < /dev/null; then \
	  touch $(BUILD)/.latex-failed; echo "PDF build failed (_build/latex is reset next time)" >&2; exit 1; \
	fi; \
	echo "$$fp" > $(BUILD)/.code-fingerprint; \
	cp $(BUILD)/latex/ex2-book.pdf $@
	@$(call phase,pdf: done: $@)

$(PDF_HTML): $(PDF) $(HTML_OK)
	cp $(PDF) $@

# Retrain one chapter's experiments, then rebuild everything from a fresh notebook cache.
# The chapter names come from the registry (python -m ex2 chapters), which also checks CH.
chapter: $(STAMP)
	@if [ -z "$(CH)" ]; then echo "usage: make chapter CH=<name>, one of:" \
	  $$($(PY) -m ex2 chapters) >&2; exit 2; fi
	$(PY) -m ex2 rerun $(CH)
	rm -rf $(BUILD)/.jupyter_cache
	rm -f $(HTML_OK) $(PDF) $(PDF_HTML)
	$(MAKE) --no-print-directory book

# Debian packages, installed with apt-get (no recommended packages) only when a command is missing:
# `tex` the PDF's TeX (~360 MB) and poppler, `test-deps` also the headless Chromium (~100 MB) that
# tests/test_browser.py drives (Playwright's own browser downloads are never used).
have_tex     = { command -v xelatex && command -v latexmk && command -v pdftotext && command -v pdfimages; } >/dev/null
have_browser = { [ -n "$$EX2_CHROMIUM" ] || command -v chromium-headless-shell || command -v chromium; } >/dev/null
apt_install  = if [ -z "$$pkgs" ]; then exit 0; fi; \
  if ! command -v apt-get >/dev/null; then \
    echo "error: missing Debian packages ($$pkgs) and apt-get is not available: install them by hand" >&2; \
    exit 1; \
  fi; \
  sudo=""; if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo="sudo"; fi; \
  echo "Installing $$pkgs"; \
  $$sudo apt-get update -q && \
  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$pkgs

install_tex  = pkgs=""; $(have_tex) || pkgs="$(TEX_PKGS)"; $(apt_install)

tex:
	@$(install_tex)

test-deps:
	@pkgs=""; $(have_tex) || pkgs="$(TEX_PKGS)"; \
	$(have_browser) || pkgs="$${pkgs:+$$pkgs }$(BROWSER_PKGS)"; \
	$(apt_install)

clean-book:
	rm -rf $(BUILD)

FORCE:
