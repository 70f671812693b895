#!/usr/bin/env bash
# Set everything up and run kvar on a generated business with the embedded DuckDB engine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/kvar demo --dir kvar-demo
