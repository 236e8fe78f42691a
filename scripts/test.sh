#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a developer's: install, start the local SLURM cluster,
# lint, type-check, test. `.ci/run` calls exactly this (with CI=true, where SLURM tests must run).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*"; }

PYTHON=${PYTHON:-python3}
say "installing clusterrun and its test tools"
if ! out=$("$PYTHON" -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1); then
    echo "$out" >&2
    echo "test.sh: installing clusterrun with its test tools failed (above)" >&2
    exit 1
fi
"$PYTHON" -c 'import clusterrun, pytest, mypy, ruff' # fail here, clearly, if the install did not work

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "starting the local SLURM cluster"
    bash scripts/local-slurm.sh up
    # the browser tests of `clusterrun site` drive Debian's own chromium (selenium, no browser download)
    if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
        say "installing chromium and chromium-driver (apt-get)"
        install_chromium() {
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                chromium chromium-driver 2>&1
        }
        if ! out=$(install_chromium || { apt-get update -q 2>&1 && install_chromium; }); then
            echo "$out" | tail -n 20 >&2
            echo "test.sh: installing chromium and chromium-driver with apt-get failed (above)" >&2
            exit 1
        fi
    fi
elif [ "${CI:-}" = true ]; then
    echo "test.sh: CI needs root and apt-get to start the SLURM cluster" >&2
    exit 1
else
    say "not root: tests that need SLURM run only if a cluster is already up, else they are skipped"
fi

say "ruff"
"$PYTHON" -m ruff check .
"$PYTHON" -m ruff format --check .
say "mypy"
"$PYTHON" -m mypy
say "mkdocs build --strict (the documentation site in site/)"
NO_MKDOCS_2_WARNING=1 "$PYTHON" -m mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
say "pytest"
exec "$PYTHON" -m pytest "$@"
