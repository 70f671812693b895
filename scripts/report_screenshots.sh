#!/usr/bin/env bash
# Screenshots of the demo report in headless Chromium (Debian package `chromium`), for the README:
# docs/images/report-wide.png (1280 px) and docs/images/report-narrow.png (800 px). Usage: scripts/report_screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "install Chromium first: apt-get install chromium" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/kvar demo --dir "$work/demo" >/dev/null
for width in 1280 800; do
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$work/profile-$width" --hide-scrollbars \
    --window-size="$width,2200" --virtual-time-budget=10000 --screenshot="$work/report-$width.png" \
    "file://$work/demo/report.html" 2>/dev/null
done
cp "$work/report-1280.png" docs/images/report-wide.png
cp "$work/report-800.png" docs/images/report-narrow.png
echo "written: docs/images/report-wide.png docs/images/report-narrow.png"
