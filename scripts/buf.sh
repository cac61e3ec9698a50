#!/usr/bin/env bash
# buf.sh builds (or reuses) the buf CLI, the oracle of the proto-validate
# breaking-change check (internal/bootstrap's TestIntegrationBufOracle runs
# `buf breaking` on mutations of the Nova protos and compares verdicts).
#
# No registry serves release binaries here, so buf is built from its Go
# module through the module proxy (`go install` works for this module).
# The binary lands in ${NOVADEV_CACHE:-$HOME/.cache/novadev}/buf/<version>/buf
# (scripts/go-tool.sh) and is reused without invoking Go when present. Logs go to stderr; the last
# line on stdout is the binary's path. Override the version with BUF_VERSION
# (default v1.75.0). Needs only Go and the module proxy.
set -euo pipefail

exec "$(dirname "$0")/go-tool.sh" buf github.com/bufbuild/buf/cmd/buf "${BUF_VERSION:-v1.75.0}" --version
