#!/usr/bin/env bash
# Set everything up (with PySpark and the test tools) and run the whole test suite, Spark tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
if ! command -v java >/dev/null 2>&1; then
  echo "Java 17 is needed for the Spark tests (e.g. apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
