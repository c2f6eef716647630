# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install torch (CPU) + geocalliper, pre-train on the bundled Helsinki OSM extract
#   make test   - the same set-up plus the test tools, then run the tests
#   make docs   - build the documentation site into site/ (mkdocs build --strict)
#   make notebooks - execute docs/notebooks/*.py into the .ipynb the docs show (commit them)
#   make qgis-plugin - build the QGIS Processing plugin zip, dist/geocalliper_processing.zip
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
export HF_HUB_OFFLINE := 1

.PHONY: demo test lint docs notebooks bench clean qgis-plugin

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first: the pinned CPU build; the project's range then installs nothing more
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/geocalliper demo --out geocalliper-demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest tests --doctest-modules geocalliper -q

docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# the sources are jupytext percent scripts; the executed notebooks are committed, so that
# the docs build (CI: 2 cores, maybe no network or data) only renders them
notebooks: $(VENV)/.installed
	$(BIN)/python docs/notebooks/_execute.py

lint: $(VENV)/.installed
	$(BIN)/ruff check geocalliper tests benchmarks examples qgis_plugin

# the plugin zip needs only the standard library: no virtual environment
qgis-plugin:
	$(PYTHON) qgis_plugin/tools/build_zip.py dist/geocalliper_processing.zip

clean:
	rm -rf $(VENV) geocalliper-demo .pytest_cache site dist/geocalliper_processing.zip
