#!/usr/bin/env bash
# Start the fmlab app (sets everything up on first run). Extra arguments go to `streamlit run`,
# e.g. `bash scripts/app.sh --server.port 8080`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # the server's own torch stays on one thread; workers get cores per run
exec .venv/bin/python -m ui.serve "$@"
