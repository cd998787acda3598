# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := twin models scenarios viz bridges

.PHONY: demo test lint typecheck bench clean render-libs

# Offscreen OpenGL for the 3D views (Mesa's EGL; OSMesa as the fallback). Installed with
# apt-get only when missing, so on a machine that has them this does nothing.
RENDER_LIBS := libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Two stamps: the runtime alone (demo), and the runtime with the test extras (test).
$(VENV)/.runtime: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

render-libs:
	@if ! command -v dpkg >/dev/null; then \
		echo "not a Debian system: install Mesa's EGL or OSMesa for the 3D views yourself"; \
	elif ! dpkg -s $(RENDER_LIBS) >/dev/null 2>&1; then \
		apt-get install -y --no-install-recommends $(RENDER_LIBS) \
		|| (apt-get update && apt-get install -y --no-install-recommends $(RENDER_LIBS)); \
	fi

demo: $(VENV)/.runtime render-libs
	$(BIN)/twin run demo
	$(BIN)/twin compare demo

test: $(VENV)/.installed render-libs
	$(BIN)/ruff check $(PACKAGES) tests bench
	$(BIN)/ruff format --check $(PACKAGES) tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 tests

bench: $(VENV)/.installed render-libs
	$(BIN)/python bench/line_bench.py
	$(BIN)/python bench/idiomatic_bench.py
	$(BIN)/python bench/parallel_bench.py
	$(BIN)/python bench/report_bench.py
	$(BIN)/python bench/render_bench.py
	$(BIN)/python bench/startup_bench.py
	$(BIN)/python bench/smart_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
