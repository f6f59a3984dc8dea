# The two README commands. Both create .venv from the pinned lock on first use (idempotent).
#   make workbook                    run every notebook on the smoke profile (CPU, offline)
#   make test                        run the test suite
# Extra arguments: make workbook PROFILE=single_gpu ARGS="--resume"   make test ARGS="-k parsing"
PROFILE ?= smoke
ARGS ?=

.PHONY: workbook test venv lab clean-runs

venv:
	@bash scripts/bootstrap.sh

workbook: venv
	@.venv/bin/python -m rmr1lib.runner --profile $(PROFILE) $(ARGS)

test: venv
	@.venv/bin/python -m pytest $(ARGS)

lab: venv
	@.venv/bin/jupyter lab notebooks

clean-runs:
	rm -rf runs
