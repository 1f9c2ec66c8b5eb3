# The two commands: `make up` runs the platform, `make test` tests it.
# `make test-unit` is the fast loop: the tests that need neither the stack nor root.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
PYTEST_ARGS ?=

.PHONY: up down reset status logs test test-unit lint format bootstrap sync toolchain quant-publish

bootstrap:
	@infra/local/bootstrap.sh

sync: bootstrap
	@$(UV) sync --all-packages --all-extras --locked --quiet

toolchain: bootstrap
	@infra/local/toolchain.sh >/dev/null

up: sync toolchain
	@$(UV) run --no-sync infstack up

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

test: lint toolchain
	$(UV) run --no-sync pytest $(PYTEST_ARGS)

# No bootstrap, toolchain or stack: `stack` marks every test that needs them (inference_testkit).
test-unit:
	$(UV) run --all-packages --all-extras --locked pytest -m "not stack" $(PYTEST_ARGS)
