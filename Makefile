# The two commands of the README: `make up` runs the suite, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up down logs test test-unit test-integration test-faults bench install migrate clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' -e examples/crm_plugin_example
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	@scripts/ensure-broker.sh
	$(BIN)/crm up

down: $(STAMP)
	$(BIN)/crm down

logs:
	@tail -n 50 -F .run/*.log

migrate: $(STAMP)
	$(BIN)/crm migrate

# Everything: unit, service, end-to-end, then the slow fault group.
test: $(STAMP)
	@scripts/ensure-backends.sh
	$(BIN)/pytest -m "not faults" $(PYTEST_ARGS)
	$(BIN)/pytest -m faults $(PYTEST_ARGS)

# The benchmarks against the real RabbitMQ and PostgreSQL; QUICK=1 for a short run.
# The bench extra's requirements are installed on their own, without reinstalling
# the project under a test run that may be using it.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet $$($(BIN)/python -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["bench"]))')
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@scripts/ensure-backends.sh
	$(BIN)/python -m bench.run $(if $(QUICK),--quick) $(BENCH_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest --noconftest services/leads/tests/test_domain.py shared/tests

clean:
	rm -rf $(VENV) .run *.egg-info
