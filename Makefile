# mailbot — the two commands: `make run` and `make test`.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-long lint eval demo bench install install-test format

run: install
	scripts/run-dev.sh

test: install-test
	$(BIN)/pytest -q -p no:cacheprovider

# The kill campaign at full size (300 mails, 30 kills per database); `make test` runs it short.
test-long: install-test
	MAILBOT_LONG=1 $(BIN)/pytest -q -p no:cacheprovider -m campaign --timeout 1800

lint: install
	$(BIN)/ruff check mailbot workflows storage portal_stub tests bench
	$(BIN)/ruff format --check mailbot workflows storage portal_stub tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format mailbot workflows storage portal_stub tests bench
	$(BIN)/ruff check --fix mailbot workflows storage portal_stub tests bench

eval: install
	$(BIN)/python bench/eval.py

# Issue 13's figures: floor and run --once at N = 200, 1,000, 8,000 (median of 3), the ack
# latency with IDLE (5 mails/s for 60 s), a 1,000-row annex. Recorded in docs/benchmarks.md.
bench: install-test
	$(BIN)/python bench/run.py

demo: install
	MAILBOT_IMAP_PASSWORD=demo $(BIN)/mailbot demo

install:
	scripts/install.sh

install-test:
	scripts/install.sh --test
