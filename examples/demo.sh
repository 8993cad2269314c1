#!/usr/bin/env bash
# The main job on an embedded default: `make demo` runs this with crmctl on the PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

echo "== crmctl validate examples/processes"
crmctl validate "$here/processes"
