#!/usr/bin/env bash
# make up: everything a fresh machine needs, then novadev up.
#  1. a Docker engine (installs and starts Debian's docker.io when run as root with apt and none is reachable);
#  2. the offline image set when the images are not present (no registry needed);
#  3. novadev up for the environment (default local), which prints the endpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
env="${1:-local}"
scripts/install-docker.sh
scripts/images/build.sh
make --no-print-directory build
exec bin/novadev up --env "$env"
