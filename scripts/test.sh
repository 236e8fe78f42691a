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
    # the live progress display is tested in a real terminal: tmux (tests/live_helpers.py)
    if ! command -v tmux >/dev/null; then
        say "installing tmux (apt-get)"
        install_tmux() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tmux 2>&1; }
        if ! out=$(install_tmux || { apt-get update -q 2>&1 && install_tmux; }); then
            echo "$out" | tail -n 20 >&2
            echo "test.sh: installing tmux with apt-get failed (above)" >&2
            exit 1
        fi
    fi
elif [ "${CI:-}" = true ]; then
    echo "test.sh: CI needs root and apt-get to start the SLURM cluster" >&2
    exit 1
else
    say "not root: tests that need SLURM run only if a cluster is already up, else they are skipped"
fi

# the multi-node test joins a real torch.distributed process group (gloo, on the CPU): PyTorch's CPU
# build (2.13.0 is the wheel this project's machines keep on disk; elsewhere pip downloads it)
if ! "$PYTHON" -c 'import torch' >/dev/null 2>&1; then
    say "installing PyTorch for the torch tests"
    if ! out=$("$PYTHON" -m pip install --quiet --disable-pip-version-check 'torch==2.13.0' 2>&1); then
        echo "$out" | tail -n 5 >&2
        say "PyTorch could not be installed: the torch tests skip (and fail under CI=true)"
    fi
fi

say "ruff"
"$PYTHON" -m ruff check .
"$PYTHON" -m ruff format --check .
say "mypy"
"$PYTHON" -m mypy
say "mkdocs build --strict (the documentation site in site/)"
NO_MKDOCS_2_WARNING=1 "$PYTHON" -m mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
if [ $# -gt 0 ] || [ "${CLUSTERRUN_TEST_SERIAL:-}" = 1 ]; then
    say "pytest $*"
    exec "$PYTHON" -m pytest "$@"
fi
# The tests marked `isolated` start their own SLURM clusters (tests/clusters.py) and mostly wait on
# them: they run in a second pytest process beside the rest, and both exit codes count.
say "pytest -m isolated (in the background, output at the end) and pytest -m 'not isolated'"
isolated_log=$(mktemp)
isolated_tmp=$(mktemp -d)
"$PYTHON" -m pytest -m isolated -p no:cacheprovider --basetemp="$isolated_tmp" >"$isolated_log" 2>&1 &
isolated_pid=$!
rest=0
"$PYTHON" -m pytest -m "not isolated" || rest=$?
isolated=0
wait "$isolated_pid" || isolated=$?
say "pytest -m isolated (exit $isolated):"
cat "$isolated_log"
rm -rf "$isolated_log" "$isolated_tmp"
if [ "$rest" -ne 0 ] || [ "$isolated" -ne 0 ]; then
    echo "test.sh: pytest failed (not isolated: exit $rest, isolated: exit $isolated)" >&2
    exit 1
fi
