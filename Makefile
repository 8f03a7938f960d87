# Every target bootstraps its own virtualenv: a fresh clone needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# SAM CLI pins its own boto3, so it lives in a venv of its own instead of conflicting with ours.
SAMVENV := .venv-sam
SAM     := $(SAMVENV)/bin/sam
SCENARIO ?= basic
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: test lint typecheck unit template drill bench reliability clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(SAM):
	test -d $(SAMVENV) || $(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install --quiet --upgrade pip
	$(SAMVENV)/bin/pip install --quiet 'aws-sam-cli>=1.120'

test: lint typecheck unit template

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n 2

template: $(STAMP) $(SAM)
	$(SAM) validate --lint --template template.yaml
	$(BIN)/cfn-lint template.yaml

drill: $(STAMP)
	$(BIN)/python -m evacuation.drill --scenario $(SCENARIO)

reliability: $(STAMP)
	$(BIN)/python -m tests.reliability

# Time to mitigate at fleet scale vs the lower bound and a sequential baseline; writes
# benchmarks/results.json. FLEETS=small,medium skips large; SEQUENTIAL=small,medium,large adds
# large's sequential baseline (rate-bound: several minutes).
FLEETS ?= small,medium,large
SEQUENTIAL ?= small,medium
bench: $(STAMP)
	$(BIN)/python -m benchmarks --fleets $(FLEETS) --sequential $(SEQUENTIAL)

# sam build (BuildMethod: makefile): only the code and its runtime dependencies, built for
# the functions' arm64 python3.12, never the repo's .venv or tests.
build-AlarmFunction build-ManualFunction build-ReconcileFunction:
	cp -r evacuation handlers "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)/evacuation/drill" "$(ARTIFACTS_DIR)/evacuation/emulator"
	python3 -m pip install --quiet -r requirements.txt -t "$(ARTIFACTS_DIR)" \
		--platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --only-binary=:all:

clean:
	rm -rf $(VENV) $(SAMVENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
