# Quick start on a fresh machine with Python 3.11:  make demo   |   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
# the benchmark images the tests and benchmarks read (conf/paths: paths.data_dir)
export ZSSR_DATA_DIR ?= $(abspath ../shared/datasets)

.PHONY: install demo test test-all lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned, so no dependency can pull another (CUDA) build
install: $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]" "$(TORCH_SPEC)"

demo: install
	$(BIN)/python evaluate.py experiment=demo

test: install
	WANDB_MODE=offline $(BIN)/python -m pytest

test-all: install
	WANDB_MODE=offline $(BIN)/python -m pytest -m "slow or not slow"

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python benchmarks/speed/iteration_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
