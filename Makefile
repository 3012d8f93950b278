# The two commands: `make run` and `make test`. Each sets up .venv from requirements on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test serve lint format clean

WORKERS ?= 2
PORT ?= 8080

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.test-installed: $(BIN)/.installed requirements-test.txt
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

run: $(BIN)/.installed  ## start the app on http://localhost:8501 (builds the demo database on first start)
	$(BIN)/python -m dashboard db prepare
	$(BIN)/streamlit run app.py --server.port 8501

serve: $(BIN)/.installed  ## production: WORKERS app replicas behind nginx on PORT, sticky sessions (README, Deployment)
	$(BIN)/python -m dashboard serve --workers $(WORKERS) --port $(PORT) --host 0.0.0.0

test: $(BIN)/.test-installed  ## lint, then every test (browser and PostgreSQL tests skip with a reason where absent)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q

format: $(BIN)/.test-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data/*.sqlite3* artifacts
