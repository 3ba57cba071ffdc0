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

demo: install
	MAILBOT_IMAP_PASSWORD=demo $(BIN)/mailbot demo

install:
	scripts/install.sh

install-test:
	scripts/install.sh --test
