#!/usr/bin/env bash
# Screenshots of herald's default alert and digest in DingTalk, WeCom and
# Feishu, as a phone shows them, into docs/images/. Rerunnable; needs a
# built herald (build/herald, or HERALD_BIN), Chromium (Debian: apt-get
# install chromium fonts-noto-cjk) and markdown-it-py (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "${HERALD_BIN:-build/herald}" ] || { echo "build herald first: cmake -S . -B build && cmake --build build" >&2; exit 1; }
command -v "${CHROMIUM:-chromium}" >/dev/null || { echo "no chromium: apt-get install chromium fonts-noto-cjk" >&2; exit 1; }
python3 -c 'import markdown_it' 2>/dev/null || python3 -m pip install -q markdown-it-py
exec python3 docs/render_alerts.py
