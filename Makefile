# nlihw: every target creates the virtual environment first if it is missing.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST := $(PY) -m pytest

.PHONY: all flow tables tables-float test test-all bench readme-tables calibrate-delays clean distclean venv

all: flow

# Every extra (explore, plot) and the test tools, at the exact versions of constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (nlihw needs Python 3.11 or later)" >&2; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,all]"
	@touch $(STAMP)

venv: $(STAMP)

# Main job: the default flow end to end (tables, NLI engine and scan unit generated, verified on
# Verilator and synthesized, a small sweep with its Pareto report); a summary with every path.
flow: $(STAMP)
	$(VENV)/bin/nlihw flow -o build

# Fit the default (fixed-point) tables into build/tables and print their error summary;
# tables-float fits the 42 fp16/bf16 tables (about half an hour on 2 cores).
tables: $(STAMP)
	$(VENV)/bin/nlihw tables build --set fixed --out build/tables

tables-float: $(STAMP)
	$(VENV)/bin/nlihw tables build --set float --out build/tables-float

# Two workers (this is a 2-core machine); a test file runs in one worker, so its module-scoped
# builds happen once.
test: $(STAMP)
	$(PYTEST) -q -n 2 --dist loadfile

test-all: $(STAMP)
	$(PYTEST) -q -n 2 --dist loadfile -m "slow or not slow"

bench: $(STAMP)
	$(PY) -m nlihw.bench

# The README's marked result tables from `make bench` output (build/bench/<section>.json);
# SECTION=fitter rewrites only that section's tables.
readme-tables: $(STAMP)
	$(PY) -m nlihw.benchmarks.readme_tables $(if $(SECTION),--section $(SECTION))

# Refit the per-target delay models behind --target-mhz (synth/delays.json) from nextpnr runs.
calibrate-delays: $(STAMP)
	$(PY) -m nlihw.synth.calibrate_delays

clean:
	rm -rf build sim_build .pytest_cache .hypothesis
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
