# The two commands a new user needs: `make run` (serve the demo) and `make test` (run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint eval bench clean demo-model

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/triage serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy triage knowledge evals

eval: $(STAMP)
	$(BIN)/triage eval clinc150 parakqc demo

bench: $(STAMP)
	$(BIN)/triage bench

clean:
	rm -rf $(VENV) var

# Re-fit the answer model shipped for the demo KB (and for indexes without a calibration of their own).
demo-model: $(STAMP)
	$(BIN)/triage calibrate --labels knowledge/samples/demo/calibration.jsonl --target-precision 0.9
	cp var/kb/demo/current/calibration.json knowledge/samples/demo/answer_model.json
