# The two commands of the README, and a few more for developers.
ARGS ?=

.PHONY: up test setup bench lint conformance

up:  ## set everything up and start the cloud in the foreground
	scripts/up.sh $(ARGS)

test:  ## set everything up and run the whole test suite
	scripts/test.sh $(ARGS)

setup:
	scripts/setup.sh test

bench:  ## print the performance figures (see bench/README.md)
	scripts/setup.sh test
	bench/run.sh

conformance:  ## the OpenStack Powered interop tests against a fresh cloud (counts per service)
	scripts/conformance.sh $(ARGS)

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy
