# The two commands of the README: `make up` runs the suite, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Each part is its own distribution (its own pyproject.toml); the workspace installs
# them all editable, every service with its tests' extra.
SERVICES := $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml))
PARTS    := shared gateway testing examples/crm_plugin_example $(SERVICES)

.PHONY: up down logs test test-unit bench install migrate clean

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PARTS))
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip>=25.1'
	@# crm-suite: the single distribution of the whole workspace before it was split; its
	@# metadata left in the root would still register every entry point a second time
	$(BIN)/pip uninstall -qq --yes crm-suite
	rm -rf crm_suite.egg-info
	$(BIN)/pip install --quiet -e shared -e gateway -e testing -e examples/crm_plugin_example \
		$(foreach s,$(SERVICES),-e '$(s)[test]') --group test
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

# Everything: unit, service, end-to-end, then the slow groups: faults, and a service
# installed alone from its own distribution.
test: $(STAMP)
	@scripts/ensure-backends.sh
	$(BIN)/pytest -m "not faults and not packaging" $(PYTEST_ARGS)
	$(BIN)/pytest -m "faults or packaging" $(PYTEST_ARGS)

# The benchmarks against the real RabbitMQ and PostgreSQL; QUICK=1 for a short run.
# The workspace's bench group (pyproject.toml) is installed on its own, without
# reinstalling the parts under a test run that may be using them.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet --group bench
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@scripts/ensure-backends.sh
	$(BIN)/python -m bench.run $(if $(QUICK),--quick) $(BENCH_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest --noconftest services/leads/tests/test_domain.py shared/tests

clean:
	rm -rf $(VENV) .run *.egg-info $(addsuffix /*.egg-info,$(PARTS)) $(addsuffix /build,$(PARTS))
