#!/usr/bin/env bash
# `make run`: the embedded default — local mail system, SQLite, portal stand-in and the daemon.
# Secrets come from the environment; for the demo they are generated once under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
[ -f var/dev-secret ] || .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(32))" > var/dev-secret
[ -f var/dev-portal-secret ] || .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(32))" > var/dev-portal-secret
export MAILBOT_SECRET="${MAILBOT_SECRET:-$(cat var/dev-secret)}"
export MAILBOT_PORTAL_SECRET="${MAILBOT_PORTAL_SECRET:-$(cat var/dev-portal-secret)}"
export MAILBOT_IMAP_PASSWORD="${MAILBOT_IMAP_PASSWORD:-demo}"
.venv/bin/mailbot db upgrade
echo "In another terminal: '.venv/bin/mailbot demo' plays the story; '.venv/bin/mailbot log -f' follows it."
exec .venv/bin/mailbot run "$@"
