#!/usr/bin/env bash
# One install script for `make run`, `make test` and CI: installs what is missing, nothing else.
#   scripts/install.sh          Python environment + portal assets (enough for `make run`)
#   scripts/install.sh --test   the same, plus Dovecot, Chromium and a running PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

log() { printf '[install] %s\n' "$*"; }

# --- system packages (Debian) -------------------------------------------------------------
if [ "$want_test" = 1 ]; then
  missing=()
  command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-imapd dovecot-lmtpd)
  [ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # the TLS tests' private CA
  if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The packaged service must not hold the standard ports or run as a system daemon: the
  # tests start their own Dovecot instances.
  if pgrep -x dovecot >/dev/null 2>&1 && [ -f /run/dovecot/master.pid ]; then
    dovecot stop >/dev/null 2>&1 || true
  fi
  # PostgreSQL runs on this kind of machine; start the cluster if it is down.
  if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi

# --- Python environment ----------------------------------------------------------------------
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.mailbot-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing Python dependencies (pinned by constraints.txt)"
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt --config-settings editable_mode=compat -e '.[dev]'
  echo "$want" > "$stamp"
fi

# --- bytecode of mailbot's own modules -------------------------------------------------------
# pip writes the .pyc of the packages it installs, not of this editable checkout's: where
# PYTHONDONTWRITEBYTECODE is set (as on the CI machines), every `mailbot` command compiled
# about 115 modules from source at start-up, some 80 ms of the daemon's (docs/benchmarks.md).
# Python still checks each .pyc against its source's time stamp: an edited module is
# compiled again as before, never run stale. Only what changed is compiled again here.
if ! .venv/bin/python -m compileall -q -j 0 mailbot workflows storage portal_stub >/dev/null; then
  log "warning: some bytecode not written (a read-only checkout?): those modules compile at start"
fi

# --- portal assets (DSFR from the npm registry, never committed) ---------------------------
if [ -x portal_stub/install_assets.sh ]; then
  portal_stub/install_assets.sh || log "warning: DSFR assets not installed (the portal still works, unstyled)"
fi
log "ready"
