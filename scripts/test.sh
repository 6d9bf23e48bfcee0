#!/usr/bin/env bash
# The test suite: install the Debian tools the tests drive (SPIN, gcc, Chromium),
# install lockspec with its test extra, run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v spin >/dev/null 2>&1 || missing+=(spin)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/setup-venv.sh "[test]"
exec .venv/bin/python -m pytest "$@"
