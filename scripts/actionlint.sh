#!/usr/bin/env bash
# actionlint.sh builds (or reuses) actionlint, the GitHub Actions workflow
# linter that TestIntegrationActionlint runs on every workflow in the repo.
#
# The binary lands in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/actionlint/<version>/
# (scripts/go-tool.sh) and is reused without invoking Go when present. Logs go to stderr; the last
# line on stdout is the binary's path, so CI does:
#   export NOVADEV_ACTIONLINT=$(scripts/actionlint.sh)
# Override the version with ACTIONLINT_VERSION (default v1.7.12). Needs only
# Go and the module proxy (CGO off).
set -euo pipefail

exec "$(dirname "$0")/go-tool.sh" actionlint github.com/rhysd/actionlint/cmd/actionlint "${ACTIONLINT_VERSION:-v1.7.12}" -version
