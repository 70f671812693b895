#!/usr/bin/env bash
# Screenshots of the demo report in headless Chromium (Debian package `chromium`), for the README:
# docs/images/report-wide.png (English, 1280 px), docs/images/report-narrow.png (English, 800 px) and
# docs/images/report-sv.png (Swedish, in SEK, 1280 px). Usage: scripts/report_screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "install Chromium first: apt-get install chromium" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/kvar demo --locale en --dir "$work/en" >/dev/null
.venv/bin/kvar demo --locale sv --dir "$work/sv" >/dev/null
shoot() {  # shoot LOCALE WIDTH OUTPUT
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$work/profile-$1-$2" --hide-scrollbars \
    --window-size="$2,2200" --virtual-time-budget=10000 --screenshot="$3" "file://$work/$1/report.html" 2>/dev/null
}
shoot en 1280 docs/images/report-wide.png
shoot en 800 docs/images/report-narrow.png
shoot sv 1280 docs/images/report-sv.png
echo "written: docs/images/report-wide.png docs/images/report-narrow.png docs/images/report-sv.png"
