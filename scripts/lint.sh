#!/usr/bin/env bash
# Lint, format check and type check (ruff and mypy, installed by scripts/setup.sh test). Usage: scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/ruff ] && [ -x .venv/bin/mypy ] || scripts/setup.sh test
.venv/bin/ruff check src tests scripts benchmarks
.venv/bin/ruff format --check src tests scripts benchmarks
.venv/bin/mypy
