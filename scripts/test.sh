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
# them: they run in two background pytest processes beside the rest, split by file and balanced by
# measured duration (A: the requeue runs, ~5.5 min of waiting on SLURM time limits; B: every other
# file with isolated tests, new ones included, ~5.5 min too). Every exit code counts; the isolated
# processes' output is printed at the end.
ISOLATED_A=(tests/test_requeue.py)
# C: tests that need no SLURM cluster of their own (pure logic, the local backend, the pages; a test
# here that submits with the backend on auto uses the main cluster, as main's do). They start when A has
# ended, in A's background process, beside main: the second core is idle once A and B are done, and main
# alone was 23 of CI's 27 minutes. Their own temporary dir, as A's and B's (pytest prunes old ones).
# test_sweep_fanout.py first: fanout never forks beside another thread, and tests that use a library
# in this process can leave one (tqdm's monitor, mlflow's artifact thread pool)
PARALLEL_C=(
    tests/test_sweep_fanout.py
    tests/unit tests/test_cli_local.py tests/test_follow_local.py tests/test_dashboard.py
    tests/test_dashboard_attempts.py tests/test_bad_input.py tests/test_adhoc.py tests/test_api_adhoc.py
    tests/test_estimate_cli.py tests/test_gc.py tests/test_logs_parts.py tests/test_local_task.py
    tests/test_smoke_interrupt.py tests/test_disk_full.py tests/test_docs.py tests/test_notes.py
    tests/test_rowcache.py tests/test_output_formats.py tests/test_metrics_ranks_local.py
    tests/test_editable_install.py tests/test_init.py tests/test_subfolder.py tests/test_metrics_table.py
    tests/test_outside_links.py tests/test_job_git.py tests/test_config_file.py tests/test_tfevents.py
)
work=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do # still running only if this script was interrupted: stop its pytest
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
# run_timed NAME COMMAND...: run it; its exit code goes to $work/NAME.rc, its seconds to $work/NAME.s
run_timed() {
    local name=$1 start=$SECONDS rc=0
    shift
    "$@" || rc=$?
    echo "$rc" >"$work/$name.rc"
    echo "$((SECONDS - start))" >"$work/$name.s"
}
# isolated NAME PYTEST-ARGS...: pytest -m isolated in the background, its own log and temporary dir
isolated() {
    local name=$1
    shift
    run_timed "$name" "$PYTHON" -m pytest -m isolated -p no:cacheprovider --basetemp="$work/$name.tmp" "$@" \
        >"$work/$name.log" 2>&1 &
    pids+=($!)
}
say "pytest -m isolated in two background processes (output at the end): A = ${ISOLATED_A[*]}," \
    "B = the other isolated tests; then C = ${#PARALLEL_C[@]} paths of tests that need no cluster of" \
    "their own, after A; pytest -m 'not isolated' of the rest here"
a_then_c() {
    run_timed A "$PYTHON" -m pytest -m isolated -p no:cacheprovider --basetemp="$work/A.tmp" \
        "${ISOLATED_A[@]}" >"$work/A.log" 2>&1
    run_timed C "$PYTHON" -m pytest -m "not isolated" -p no:cacheprovider --basetemp="$work/C.tmp" \
        --durations=15 "${PARALLEL_C[@]}" >"$work/C.log" 2>&1
}
a_then_c &
pids+=($!)
isolated B "${ISOLATED_A[@]/#/--ignore=}"
# --durations: the slowest tests, to balance the processes from measurements
run_timed main "$PYTHON" -m pytest -m "not isolated" --durations=30 "${PARALLEL_C[@]/#/--ignore=}"
for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()
result() { cat "$work/$1.$2" 2>/dev/null || echo "?"; } # NAME rc|s ('?' if it was killed)
failed=""
for name in A B C; do
    kind="-m isolated"
    [ "$name" != C ] || kind="-m 'not isolated'"
    echo
    say "======== background process $name (pytest $kind): exit $(result "$name" rc)," \
        "$(result "$name" s) s ========"
    cat "$work/$name.log" 2>/dev/null || echo "test.sh: no log of process $name"
done
echo
for name in main A B C; do
    say "pytest process $name: exit $(result "$name" rc) in $(result "$name" s) s"
    [ "$(result "$name" rc)" = 0 ] || failed+=" $name(exit $(result "$name" rc))"
done
if [ -n "$failed" ]; then
    echo "test.sh: pytest failed:$failed (main and C = -m 'not isolated', A and B = -m isolated)" >&2
    exit 1
fi
