# The two commands: `make up` runs the platform, `make test` tests it.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
PYTEST_ARGS ?=

.PHONY: up down reset status logs test lint format bootstrap sync toolchain

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

lint: sync
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .
	$(UV) run --no-sync mypy

format: sync
	$(UV) run --no-sync ruff format .
	$(UV) run --no-sync ruff check --fix .

test: lint toolchain
	$(UV) run --no-sync pytest $(PYTEST_ARGS)
