#!/bin/bash
# Make golden records with the clusterrun of one commit: real runs of the quickstart example on the local
# backend (completed, failed, with data, a sweep, a dirty tree, a reproduction, a failed smoke test),
# then copy their manifest.json, summary.json and sweep.json to OUT_DIR/<role>/.
#
#   bash tests/golden/records/make_golden.sh COMMIT tests/golden/records/v1/COMMIT
#
# The commit is checked out in a temporary git worktree (removed afterwards); nothing here is committed.
set -euo pipefail
COMMIT=$1
OUT=$(realpath -m "$2")
REPO=$(git rev-parse --show-toplevel)
CODE=$(mktemp -d /tmp/clusterrun-golden-code.XXXXXX)
P=$(mktemp -d /tmp/clusterrun-golden-project.XXXXXX)
git -C "$REPO" worktree add --detach "$CODE" "$COMMIT" >/dev/null
trap 'git -C "$REPO" worktree remove --force "$CODE"; rm -rf "$P"' EXIT
[ -f "$CODE/clusterrun/__main__.py" ] || printf 'from clusterrun.cli.app import entry\n\nentry()\n' \
    > "$CODE/clusterrun/__main__.py"  # the first versions had no `python -m clusterrun`

mkdir -p "$P/examples/quickstart" "$P/configs" "$P/data"
cp "$CODE/examples/quickstart/train.py" "$P/examples/quickstart/"
cp "$CODE/configs/examples/quickstart.yaml" "$P/configs/quickstart.yaml"
printf 'x,y\n1,2\n' > "$P/data/train.csv"
printf 'data/\n' > "$P/.gitignore"
sed 's/^name: quickstart/name: withdata/' "$P/configs/quickstart.yaml" > "$P/configs/withdata.yaml"
printf 'data: {train: data/train.csv}\n' >> "$P/configs/withdata.yaml"
cd "$P"
git init -q -b main && git add -A && git -c user.email=t@e.com -c user.name=t commit -q -m initial
export PYTHONPATH=$CODE
unset CLUSTERRUN_RUNS_DIR
YES=""  # the first versions had no cost gate, and no --yes
if python -m clusterrun submit --help 2>/dev/null | grep -- --yes >/dev/null; then YES=--yes; fi
# Each command may fail on purpose (the failing run, the smoke test) or be unknown to an old version
# (data:, --sweep, reproduce): the roles it would have made are then missing.
cr() { python -m clusterrun "$@" </dev/null >/dev/null 2>&1 || echo "  (exit $?: clusterrun $*)"; }
cr submit configs/quickstart.yaml --backend local --wait $YES
cr submit configs/quickstart.yaml params.batch_size=2000 --backend local --wait $YES --skip-smoke "golden: a failing run"
cr submit configs/withdata.yaml params.steps=20 --backend local --wait $YES
cr submit configs/quickstart.yaml --sweep params.lr=0.1,0.05 params.steps=20 --backend local --wait $YES
echo "# dirty" >> examples/quickstart/train.py
cr submit configs/quickstart.yaml params.steps=30 --backend local --wait $YES --allow-dirty
git checkout -q examples/quickstart/train.py
cr reproduce "$(ls runs | grep '^quickstart_' | sort | head -1)" --backend local --wait $YES
cr submit configs/quickstart.yaml params.batch_size=3000 --backend local  # the smoke test fails
python "$REPO/tests/golden/records/collect_golden.py" "$P/runs" "$OUT"
