#!/usr/bin/env bash
# Run the whole test suite (sets everything up on first run, Debian's chromium included).
# Extra arguments go to pytest, e.g. `scripts/test.sh -k lessons`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null; then
  echo "setup: installing Debian's chromium for the browser tests" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
exec .venv/bin/python -m pytest tests "$@"
