#!/usr/bin/env bash
# The main job: install lockspec, check every shipped spec, write the HTML reports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
exec .venv/bin/lockspec check specs/ --html reports/ "$@"
