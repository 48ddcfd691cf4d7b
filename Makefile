# One entry point for people and CI. Everything installs into .venv from this repository's
# packages/ (never by bare name: an unrelated `waitbus` lives on PyPI). Package lists are
# derived from packages/*/pyproject.toml, and the dev tools from the [dependency-groups] of
# the root pyproject.toml, so a new package or tool needs no edit here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := $(patsubst packages/%/pyproject.toml,%,$(wildcard packages/*/pyproject.toml))
PYPROJECTS := pyproject.toml version.toml $(wildcard packages/*/pyproject.toml)
# uv when it is on PATH (a workspace sync), pip otherwise: only Python and make are required.
UV := $(shell command -v uv 2>/dev/null)
EXTRA_REQUIREMENTS := examples/agents/requirements.txt
STAMP := $(VENV)/.installed

.PHONY: venv demo hero hero-record test peers lint typecheck unit integration bench dist clean

venv: $(STAMP)

ifneq ($(UV),)
$(STAMP): $(PYPROJECTS) $(EXTRA_REQUIREMENTS) Makefile
	UV_PYTHON=$(PYTHON) UV_PYTHON_DOWNLOADS=never $(UV) sync --inexact --all-groups
	$(UV) pip install --python $(BIN)/python -q $(foreach r,$(EXTRA_REQUIREMENTS),-r $(r))
	touch $(STAMP)
else
$(STAMP): $(PYPROJECTS) $(EXTRA_REQUIREMENTS) Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"  # 25.1: --group (PEP 735)
	$(BIN)/python -m pip install -q --group dev $(foreach p,$(PACKAGES),-e packages/$(p)) \
		-e "packages/waitbus-cli[analyze]" $(foreach r,$(EXTRA_REQUIREMENTS),-r $(r))
	touch $(STAMP)
endif

demo: venv
	$(BIN)/waitbus demo

# The two-framework agent demo beside a live `waitbus top`, in tmux panes (offline).
hero: venv
	examples/agents/hero.sh

# Re-record docs/hero.cast with asciinema (a recording tool, never a package dependency).
hero-record: venv
	$(BIN)/python -m pip install -q "asciinema>=2.4,<3"
	TERM=xterm-256color HERO_EXIT_AFTER=4 HERO_COLS=160 HERO_ROWS=45 \
		$(BIN)/asciinema rec --overwrite -q --cols 160 --rows 45 -c examples/agents/hero.sh docs/hero.cast

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy packages/*/src tools

unit: venv
	$(BIN)/pytest tests

integration: venv
	$(BIN)/pytest integration

# The real peers first (apt ones as root, the rest into .peers/), so they run, not skip;
# the last line of the run lists what still skipped and why (conftest.py).
peers:
	bash tools/peers/install.sh

test: lint typecheck peers
	$(BIN)/pytest tests integration

# Every distribution's wheel and sdist, SHA256SUMS and an SBOM, from a clean work tree whose
# HEAD is tagged v<version> (docs/release.md).
dist: venv
	$(BIN)/python tools/dist.py --out dist

bench: venv
	$(BIN)/python -m pip install -q -r benchmarks/requirements.txt  # the plot; never a package dependency
	$(BIN)/python benchmarks/e2e.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist
