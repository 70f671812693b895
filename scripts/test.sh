#!/usr/bin/env bash
# Set everything up (with PySpark, Chromium, PostgreSQL and the test tools) and run the whole test suite, Spark tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
if ! command -v java >/dev/null 2>&1; then
  echo "Java 17 is needed for the Spark tests (e.g. apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get install -y -qq chromium || { apt-get update -qq && apt-get install -y -qq chromium; }; } >/dev/null 2>&1 \
      || echo "could not install Chromium: the browser tests will skip" >&2
  else
    echo "Chromium is not installed, so the browser tests will skip (apt-get install chromium)" >&2
  fi
fi
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get install -y -qq postgresql || { apt-get update -qq && apt-get install -y -qq postgresql; }; } >/dev/null 2>&1 \
      || echo "could not install PostgreSQL: the multi-worker tests will skip" >&2
  else
    echo "PostgreSQL is not installed, so the multi-worker tests will skip (apt-get install postgresql)" >&2
  fi
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
