#!/usr/bin/env bash
# Install the portal stand-in's front-end assets (the DSFR) from package-lock.json.
# Idempotent: runs `npm ci` only when node_modules is missing or does not match the lock file.
# Lifecycle scripts are not run (--ignore-scripts): the package ships built files in dist/.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "install_assets.sh: npm is missing (Debian: apt-get install -y nodejs npm)" >&2
  exit 1
fi

wanted=$(node -p 'require("./package-lock.json").packages["node_modules/@gouvfr/dsfr"].version')
installed=""
if [ -f node_modules/@gouvfr/dsfr/package.json ] && [ -f node_modules/@gouvfr/dsfr/dist/dsfr.min.css ]; then
  installed=$(node -p 'require("./node_modules/@gouvfr/dsfr/package.json").version')
fi

if [ "$installed" = "$wanted" ]; then
  echo "DSFR $wanted already installed in portal_stub/node_modules"
  exit 0
fi

echo "Installing DSFR $wanted (found: ${installed:-none})"
npm ci --no-audit --no-fund --ignore-scripts
