#!/usr/bin/env bash
# Run the whole test suite (sets everything up on first run, Debian's chromium included).
# Extra arguments go to pytest, e.g. `scripts/test.sh -k lessons`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null; then
  echo "setup: installing Debian's chromium for the browser tests" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null \
    || echo "setup: could not install chromium; the browser tests will be skipped" >&2
fi
if [ "${CI:-}" = true ]; then
  # In CI the browser tests must run, not skip: a missing browser is a red build.
  command -v chromium >/dev/null || { echo "CI: chromium is missing, so the browser tests cannot run" >&2; exit 1; }
  export FMLAB_REQUIRE_BROWSER=1
fi
exec .venv/bin/python -m pytest tests "$@"
