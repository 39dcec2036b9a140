# Two commands for a newcomer: `make dev` (the gateway on http://127.0.0.1:4000,
# offline) and `make test` (lint, types and the whole suite). Both build .venv
# from the hash-locked requirements, the same pins the Lambda layer ships.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 4000

.PHONY: venv test lint typecheck unit dev lock bench bench-spend bench-messages bench-responses bench-surfaces bench-providers bench-telemetry bench-aws clean build validate

venv: $(STAMP)

$(STAMP): requirements/dev.txt requirements/runtime.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check shared tests functions
	$(VENV)/bin/ruff format --check shared tests functions

typecheck: venv
	$(VENV)/bin/mypy

unit: venv
	$(VENV)/bin/pytest

test: lint typecheck unit

dev: venv
	PYTHONPATH=shared PORT=$(PORT) $(PY) -m gateway.local.stack

# Regenerate the locks after editing requirements/*.in (needs network to PyPI).
lock: venv
	$(PY) -m pip install --quiet uv==0.13.9
	cd requirements && ../$(VENV)/bin/uv pip compile --universal --python-version 3.11 \
	  --generate-hashes runtime.in -o runtime.txt -q
	cd requirements && ../$(VENV)/bin/uv pip compile --universal --python-version 3.11 \
	  --generate-hashes dev.in -o dev.txt -q

bench: venv
	PYTHONPATH=shared $(PY) -m gateway.local.bench

bench-spend: venv
	PYTHONPATH=shared $(PY) -m gateway.local.spend_bench

bench-messages: venv
	PYTHONPATH=shared $(PY) -m gateway.local.api_bench --api messages

bench-responses: venv
	PYTHONPATH=shared $(PY) -m gateway.local.api_bench --api responses

bench-surfaces: venv
	PYTHONPATH=shared $(PY) -m gateway.local.api_bench --api surfaces

bench-providers: venv
	PYTHONPATH=shared $(PY) -m gateway.local.api_bench --api providers

bench-telemetry: venv
	PYTHONPATH=shared $(PY) -m gateway.local.telemetry_bench

bench-aws: venv
	PYTHONPATH=shared $(PY) -m gateway.local.aws_bench

clean:
	rm -rf $(VENV) .aws-sam .mypy_cache .ruff_cache

# ---- sam build / validate (tool venv .venv-sam, apart from the dev venv) ----
SAM_VERSION := 1.170.0
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam

$(SAM_VENV)/.sam-$(SAM_VERSION):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_VERSION)
	touch $@

build: $(SAM_VENV)/.sam-$(SAM_VERSION)  ## sam build through functions/api and layers/deps Makefiles (no Docker)
	$(SAM) build

validate: $(SAM_VENV)/.sam-$(SAM_VERSION)  ## sam validate (lint, then SAM rules; offline)
	$(SAM) validate --lint
	$(SAM) validate --region us-east-1
