#!/usr/bin/env bash
# The whole test suite: fetch the pinned models and data the integration tests use (idempotent;
# a second run only verifies hashes), install Jupyter + the evcxr kernel for the notebook tests
# (idempotent), then every test target with missing assets as a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/fetch-assets.sh sentiment lm digits
kernel/install.sh
INTERPRIM_REQUIRE_ASSETS=1 cargo test --all-targets "$@"
cargo test --doc "$@"
