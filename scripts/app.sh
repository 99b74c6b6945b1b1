#!/usr/bin/env bash
# Start the fmlab app (sets everything up on first run). Extra arguments go to `streamlit run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one thread per training run: a shared server stays responsive
exec .venv/bin/streamlit run app.py "$@"
