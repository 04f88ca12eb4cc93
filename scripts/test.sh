#!/usr/bin/env bash
# The whole test suite: fetch the pinned models and data the integration tests use (idempotent;
# a second run only verifies hashes), install Jupyter + the evcxr kernel for the notebook tests
# (idempotent), then every test target with missing assets as a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/fetch-assets.sh sentiment lm digits
kernel/install.sh
# shapiq (pinned) in a venv under the cache, for the interop test that reads our files back
CACHE="${INTERPRIM_CACHE:-$PWD/.cache}"
SHAPIQ_PY="$CACHE/shapiq-venv/bin/python"
if ! "$SHAPIQ_PY" -c "import shapiq" 2>/dev/null; then
  python3 -m venv "$CACHE/shapiq-venv"
  "$SHAPIQ_PY" -m pip install --quiet --disable-pip-version-check shapiq==1.4.1
fi
INTERPRIM_REQUIRE_ASSETS=1 cargo test --all-targets "$@"
cargo test --doc "$@"
