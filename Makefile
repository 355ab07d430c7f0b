# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install clean demo lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/regiebot db upgrade
	$(BIN)/regiebot config check $${REGIEBOT_CONFIG:-deploy/regieteam.example.yaml}
	$(BIN)/regiebot run

demo: $(STAMP)
	$(BIN)/regiebot db upgrade
	$(BIN)/regiebot demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

# The image's lock file (deploy/requirements.lock): re-run after changing dependencies.
lock: $(STAMP)
	$(BIN)/pip install --quiet 'uv>=0.5'
	{ sed -n '1,4p' deploy/requirements.lock; $(BIN)/uv pip compile pyproject.toml \
	  deploy/build-requirements.in --universal --python-version 3.11 --generate-hashes \
	  --no-header --quiet; } > deploy/requirements.lock.new
	mv deploy/requirements.lock.new deploy/requirements.lock

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/regiebot.db*
