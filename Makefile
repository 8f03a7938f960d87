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

.PHONY: test lint typecheck unit template package sam-local drill detect detect-validate sandbox bench \
        reliability clean

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

# tests/package checks the `sam build` output (so unit builds it first) and runs the artifact;
# loadgroup keeps the artifact tests on one worker, which builds the artifacts once.
unit: $(STAMP) package
	AZEVAC_REQUIRE_PACKAGE=1 $(BIN)/pytest -q -n 2 --dist loadgroup

template: $(STAMP) $(SAM)
	$(SAM) validate --lint --template template.yaml
	$(SAM) validate --lint --template gameday/template.yaml
	$(BIN)/cfn-lint template.yaml gameday/template.yaml detection/detection.yaml

drill: $(STAMP)
	$(BIN)/python -m evacuation.drill --scenario $(SCENARIO)

# The detection library and the traffic matrix (levels x AZ counts x failure kinds, seeds each,
# and 30 healthy days per level) through the generated alarms, evaluated as CloudWatch does;
# prints the tables and writes benchmarks/detection.json and detection.png (README "Detection").
# DETECT_ARGS: e.g. --quick, --seeds 3, --days 2, --levels 20,200, --azs 3, --jobs 2.
DETECT_ARGS ?=
detect: $(STAMP)
	$(BIN)/python -m evacuation.detection $(DETECT_ARGS)

# CloudWatch's own answer for every alarm and rule of the detection stack: sends each shape to
# the account the AWS environment names (a sandbox: AWS_PROFILE, AWS_REGION) under a temporary
# azevac-validate-<random>- prefix, actions disabled, rules DISABLED, then deletes them. Needs
# credentials; not part of test. ARGS: e.g. --parameter LoadBalancer=app/<name>/<id>.
CONFIG ?= azevac.json
detect-validate: $(STAMP)
	$(BIN)/python -m evacuation.detection.validate --config $(CONFIG) $(ARGS)

# An embedded AWS with the drill's workload on http://127.0.0.1:$(PORT), until Ctrl-C: prints the
# environment that points azevac at it (also written to an env.sh it names).
PORT ?= 4599
sandbox: $(STAMP)
	$(BIN)/azevac sandbox --port $(PORT)

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
# the functions' arm64 python3.12, never the repo's .venv or tests. The platform is a variable so
# tests/package can build the same target for this machine and run it; pip's .pyc would be for
# the building interpreter, which Lambda's 3.12 cannot use, so none are written.
LAMBDA_PLATFORM ?= manylinux2014_aarch64
LAMBDA_PYTHON   ?= 3.12
build-AlarmFunction build-ManualFunction build-ReconcileFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "$@: ARTIFACTS_DIR is not set (sam build sets it)"; exit 2; }
	@$(PYTHON) -m pip --version >/dev/null || { echo "$@: $(PYTHON) has no pip"; exit 2; }
	cp -r evacuation handlers "$(ARTIFACTS_DIR)/"
	rm -rf "$(ARTIFACTS_DIR)/evacuation/drill" "$(ARTIFACTS_DIR)/evacuation/emulator" \
		"$(ARTIFACTS_DIR)/evacuation/terminal"
	# The detection kit's runtime part is its config model; the generator, evaluator and scenario
	# library are tools (azevac alarms, make detect), not Lambda code.
	find "$(ARTIFACTS_DIR)/evacuation/detection" -name '*.py' ! -name __init__.py ! -name config.py \
		-delete
	find "$(ARTIFACTS_DIR)/evacuation" "$(ARTIFACTS_DIR)/handlers" -name __pycache__ -prune \
		-exec rm -rf {} +
	$(PYTHON) -m pip install --quiet --no-compile --no-warn-conflicts -r requirements.txt \
		-t "$(ARTIFACTS_DIR)" --platform $(LAMBDA_PLATFORM) --implementation cp \
		--python-version $(LAMBDA_PYTHON) --only-binary=:all:

# What `sam deploy` would upload: `sam build` exactly as a user runs it (samconfig.toml: build in
# source). `make test` checks the artifacts (tests/package).
package: $(SAM)
	$(SAM) build
	@du -sh --apparent-size .aws-sam/build/*Function

# Every sample event through `sam local invoke` (Docker, the Lambda base image) against the
# embedded AWS; says what is missing and exits 1 where it cannot run. Not part of test.
sam-local: $(STAMP) package
	$(BIN)/python -m tests.package.sam_local

clean:
	rm -rf $(VENV) $(SAMVENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
