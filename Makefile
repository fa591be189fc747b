# `make install`: .venv with every requirement (scripts, demos, tests), needing only Python 3.10+
# with venv. `make rehearse`: the whole tutorial locally, no AWS account (KEEP=1: stop before
# step 6 to go on by hand; LIKE_AWS=1: behind a local AWS that lags as AWS does). `make test`:
# the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
REQUIREMENTS := $(wildcard requirements*.txt demo/requirements*.txt localserver/requirements*.txt)

.PHONY: install venv test lint rehearse bench clean

$(INSTALLED): $(REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install venv: $(INSTALLED)
	@echo "ready: run the steps with $(BIN)/python, or after \`. $(BIN)/activate\` with python3"

test: $(INSTALLED)
	AWS_EC2_METADATA_DISABLED=true $(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

rehearse: $(INSTALLED)
	$(BIN)/python -m rehearsal.rehearse $(if $(filter 1 yes true,$(KEEP)),--keep) $(if $(filter 1 yes true,$(REST)),--rest) $(if $(filter 1 yes true,$(LIKE_AWS)),--like-aws)

bench: $(INSTALLED)
	$(BIN)/python bench/frame_path.py
	$(BIN)/python bench/throughput.py
