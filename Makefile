# The two commands a newcomer needs: `make demo` and `make test`. Each does its own set-up
# (virtualenv, Python packages, Kafka jars, Redis, the AWS emulator). Logic lives in scripts/.
.DEFAULT_GOAL := help
VENV := .venv
MODELMON := $(VENV)/bin/modelmon

.PHONY: help venv test demo bench lint docs stack-up stack-down stack-status

help:
	@echo "make demo        start the local stack and run the demo (DURATION=60: seconds of traffic)"
	@echo "make test        lint, types, unit + integration + e2e tests on the real stack"
	@echo "make venv        create .venv from requirements/lock.txt (instant when unchanged)"
	@echo "make lint        ruff check, ruff format --check, mypy, bandit (medium and up)"
	@echo "make bench       run the benchmarks (bench/run_all.py)"
	@echo "make docs        regenerate docs/configuration.md's settings and docs/api.md from OpenAPI"
	@echo "make stack-up | stack-down | stack-status   the local Kafka, Redis and AWS emulator"

venv:
	@bash scripts/venv.sh

test:
	@bash scripts/test.sh

# DURATION: seconds of traffic (default 180); DEMO_ARGS: any other `modelmon demo run` option.
demo: venv
	$(MODELMON) demo run $(if $(DURATION),--duration $(DURATION)) $(DEMO_ARGS)

bench: venv
	$(MODELMON) stack up
	$(VENV)/bin/python bench/run_all.py $(BENCH)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --extend-exclude "*.md" .
	$(VENV)/bin/mypy
	$(VENV)/bin/bandit -q -r shared services -ll

docs: venv
	$(VENV)/bin/python scripts/gen_config_docs.py
	$(VENV)/bin/python scripts/gen_api_docs.py

stack-up: venv
	$(MODELMON) stack up

stack-down: venv
	$(MODELMON) stack down

stack-status: venv
	$(MODELMON) stack status
