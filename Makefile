# `make rehearse`: the whole tutorial locally, no AWS account. `make test`: the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
REQUIREMENTS := $(wildcard requirements*.txt demo/requirements*.txt localserver/requirements*.txt)

.PHONY: test lint rehearse bench clean

$(INSTALLED): $(REQUIREMENTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: $(INSTALLED)
	AWS_EC2_METADATA_DISABLED=true $(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

rehearse: $(INSTALLED)
	$(BIN)/python -m rehearsal.rehearse $(if $(KEEP),--keep) $(if $(REST),--rest)

bench: $(INSTALLED)
	$(BIN)/python bench/frame_path.py
	$(BIN)/python bench/throughput.py
