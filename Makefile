# Two commands on a fresh machine:  `make demo`  and  `make test`.
# Both create .venv/ and install lamin-core with every adapter the first time (and when a pyproject changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROJECTS := pyproject.toml openlineage/pyproject.toml integrations/prefect/pyproject.toml \
            integrations/nextflow/pyproject.toml integrations/snakemake/logger/pyproject.toml \
            integrations/snakemake/storage/pyproject.toml

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): $(PROJECTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[data,s3,test,bionty]' -e './openlineage[test]' -e ./integrations/prefect \
		-e './integrations/nextflow[nf-core]' -e ./integrations/snakemake/logger -e ./integrations/snakemake/storage
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	bash scripts/system-deps.sh
	$(BIN)/python -m pytest -n 2  # both cores: about 9 minutes instead of 14

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .lamin-demo
