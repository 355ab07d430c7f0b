# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-quick bench-full install clean demo lock teams-app chaos

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

# Start the demo again from nothing: removes only the SQLite database under var/ (never PostgreSQL).
.PHONY: demo-reset
demo-reset: $(STAMP)
	$(BIN)/python -m bot.demo reset

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

# The Teams app package (docs/teams.md): TEAMS_APP_ID=… make teams-app → var/regiebot-teams.zip
teams-app:
	$(PYTHON) deploy/teams/build_app.py var/regiebot-teams.zip

# Benchmarks (docs/benchmarks.md): `make bench` < 10 min on 2 cores; `make bench-quick` only
# checks that the harness runs end to end; `make bench-full` adds the 500.000-case history.
# The chaos run (tests/test_chaos.py): the real bot, faulty fake platforms, three SIGKILLs.
chaos: $(STAMP)
	$(BIN)/pytest -m chaos tests/test_chaos.py

bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	BENCH_QUICK=1 $(BIN)/python -m bench

bench-full: $(STAMP)
	BENCH_FULL=1 $(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/regiebot.db*
