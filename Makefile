# The two commands: `make up` runs the platform, `make test` tests it.
# `make test-unit` is the fast loop: the tests that need neither the stack nor root.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
PYTEST_ARGS ?=

.PHONY: up down reset status logs test test-unit lint format bootstrap sync toolchain browser ui-deps ui-build ui-dev images all quant-publish

bootstrap:
	@infra/local/bootstrap.sh

sync: bootstrap
	@$(UV) sync --all-packages --all-extras --locked --quiet

toolchain: bootstrap
	@infra/local/toolchain.sh >/dev/null

up: sync toolchain
	@$(UV) run --no-sync infstack up

# The web UI (frontend/): npm's cache lives outside the repository.
export npm_config_cache ?= $(HOME)/.cache/inference-service/npm

browser:
	@infra/local/bootstrap.sh --browser

ui-deps:
	@cd frontend && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; }

ui-build: ui-deps
	@cd frontend && npm run build

# Vite's dev server with hot reload on 127.0.0.1:5174 (UI_DEV_PORT), proxying /_/api and /_/gateway to the
# stack's API and gateway (the same prefixes the served UI uses).
ui-dev: ui-deps
	@set -a; [ -f .local/env ] && . .local/env; set +a; cd frontend && npm run dev

down:
	@$(UV) run --no-sync infstack down

reset: down
	rm -rf .local

status:
	@$(UV) run --no-sync infstack status

logs:
	@$(UV) run --no-sync infstack logs $(NAME)

# Publishes a local GGUF (or the first part of a split one) to the quantization cluster's
# store with a correct manifest: `make quant-publish FILE=model.gguf NAME=mymodel:q4 [UUID=…]`.
quant-publish:
	@test -n "$(FILE)" -a -n "$(NAME)" || { echo "usage: make quant-publish FILE=… NAME=… [UUID=…]"; exit 2; }
	@. $${LOCAL_STATE_DIR:-.local}/env && $(UV) run --no-sync inference-quant-publish "$(FILE)" --name "$(NAME)" $(if $(UUID),--uuid "$(UUID)")

lint: sync
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync mypy

format: sync
	$(UV) run --no-sync ruff format .
	$(UV) run --no-sync ruff check --fix .

test: lint toolchain browser ui-deps
	$(UV) run --no-sync pytest $(PYTEST_ARGS)

# No bootstrap, toolchain or stack: `stack` marks every test that needs them (inference_testkit).
test-unit: ui-deps
	$(UV) run --all-packages --all-extras --locked pytest -m "not stack" $(PYTEST_ARGS)

# Container images as OCI archives in ~/.cache/inference-service/images (buildah, no Docker
# engine needed); an image whose inputs did not change is not rebuilt. See images/README.md.
images:
	@infra/local/bootstrap.sh --images
	@images/build.sh

# For a machine with Docker and kind: a kind cluster, the images built and loaded, Traefik,
# the chart installed with generated credentials, the URLs printed. See charts/inference-service.
all:
	@images/kind-up.sh
