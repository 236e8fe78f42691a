"""`clusterrun site`, `plot` and `export` on a registry made by real runs on the local backend: a
completed run, a failed one, a sweep of 4 and a reproduction. The pages are opened from file:// in
Debian's headless Chromium (selenium driving the system chromedriver; nothing is downloaded): tables list
the runs, every plot drew data, filter and sort work, the console stays clean. Screenshots go to the
test's tmp dir, and also to $CLUSTERRUN_SCREENSHOTS (e.g. site/img, the README's pictures) when set.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import cli, make_project, no_traceback

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS_ENV = "CLUSTERRUN_SCREENSHOTS"
LOSS_COLUMN = """
    var col = Array.from(document.querySelectorAll('#runs th'))
        .findIndex(th => th.textContent.startsWith('loss'));
    return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => r.cells[col].dataset.sort);
"""


class Registry:
    def __init__(self, project: Path, ids: dict[str, Any]) -> None:
        self.project = project
        self.ids = ids
        self.site = project / "runs" / "site"

    def url(self, page: str) -> str:
        return (self.site / page).as_uri()


def _run_id(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("Run ID: "):
            return line.split()[-1]
    raise AssertionError(output)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    project = make_project(tmp_path_factory.mktemp("site") / "proj")
    local = ["--backend", "local", "--wait", "--yes"]
    ok = cli(["submit", "configs/quickstart.yaml", *local], project)
    assert ok.returncode == 0, ok.stderr
    base = _run_id(ok.stdout)
    bad = cli(
        [
            "submit",
            "configs/quickstart.yaml",
            "params.batch_size=5000",
            "--skip-smoke",
            "fails on purpose",
            *local,
        ],
        project,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    failed = _run_id(bad.stdout)
    sweep = cli(
        ["submit", "configs/quickstart.yaml", "--sweep", "params.lr=0.3,0.05,0.02,0.01", *local], project
    )
    assert sweep.returncode == 0, sweep.stderr
    sweep_id = next(p.name for p in (project / "runs").iterdir() if p.name.startswith("quickstart-sweep_"))
    members = [
        m["run_id"] for m in json.loads((project / "runs" / sweep_id / "sweep.json").read_text())["members"]
    ]
    assert len(members) == 4
    again = cli(["reproduce", base, *local], project)
    assert again.returncode == 0, again.stdout + again.stderr
    reproduction = next(
        p.name
        for p in (project / "runs").iterdir()
        if (p / "manifest.json").is_file() and json.loads((p / "manifest.json").read_text()).get("reproduces")
    )
    smoke = cli(["submit", "configs/quickstart.yaml", "params.batch_size=5001", *local], project)
    assert smoke.returncode == 1, smoke.stdout + smoke.stderr
    smoke_failed = next(
        p.name
        for p in (project / "runs").iterdir()
        if (p / "manifest.json").is_file()
        and json.loads((p / "manifest.json").read_text()).get("state") == "smoke_failed"
    )
    built = cli(["site", "--json"], project)
    assert built.returncode == 0, built.stderr
    no_traceback(built)
    ids = {
        "base": base,
        "failed": failed,
        "sweep": sweep_id,
        "members": members,
        "reproduction": reproduction,
        "smoke_failed": smoke_failed,
    }
    return Registry(project, ids)


# ----------------------------------------------------------------------------------- without a browser


def test_runs_keep_their_metric_history(registry: Registry) -> None:
    run = registry.project / "runs" / registry.ids["base"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics_best"]["loss"]["mode"] == "min"
    assert summary["metrics_best"]["loss"]["points"] == 200
    assert summary["metrics_best"]["loss"]["value"] <= summary["metrics"]["loss"]
    assert summary["metrics_history"]["files"] == ["metrics.jsonl", "stdout_metrics.jsonl"]
    rows = [json.loads(line) for line in (run / "stdout_metrics.jsonl").read_text().splitlines()]
    assert [set(r) for r in rows] == [{"final_loss", "step", "timestamp"}]
    assert isinstance(rows[0]["timestamp"], float)  # from stdout.times, written while the job ran
    sizes = [int(line.split()[1]) for line in (run / "stdout.times").read_text().splitlines()]
    assert sizes[-1] == (run / "stdout.log").stat().st_size


def test_the_site_is_incremental(registry: Registry) -> None:
    first = json.loads(cli(["site", "--json"], registry.project).stdout)
    assert first["written"] == [] and first["runs"] == 8 and first["sweeps"] == 1
    member = registry.project / "runs" / registry.ids["members"][0]
    with open(member / "metrics.jsonl", "a") as handle:  # as a job still writing would
        handle.write('{"step": 201, "loss": 0.0093}\n')
    second = json.loads(cli(["site", "--json", "--no-poll"], registry.project).stdout)
    member_id = registry.ids["members"][0]
    assert sorted(second["written"]) == sorted(
        [
            f"data/{member_id}.js",
            f"runs/{member_id}.html",
            f"sweeps/{registry.ids['sweep']}.html",
            "index.html",
            "data/index.js",
        ]
    )
    assert f"runs/{registry.ids['base']}.html" not in second["written"]


def test_site_of_a_selection_and_its_errors(registry: Registry, tmp_path: Path) -> None:
    out = tmp_path / "one"
    chosen = cli(["site", registry.ids["sweep"], "--out", str(out), "--json"], registry.project)
    assert chosen.returncode == 0, chosen.stderr
    assert json.loads(chosen.stdout)["runs"] == 4
    assert (out / "sweeps" / f"{registry.ids['sweep']}.html").is_file()
    unknown = cli(["site", "quickstart_20990101-000000"], registry.project)
    assert unknown.returncode == 2
    assert (
        unknown.stderr.startswith("error: no run 'quickstart_20990101-000000'") and "hint:" in unknown.stderr
    )
    a_file = tmp_path / "file"
    a_file.write_text("")
    clash = cli(["site", "--out", str(a_file)], registry.project)
    assert clash.returncode != 0 and "error:" in clash.stderr and "hint:" in clash.stderr
    for result in (unknown, clash):
        no_traceback(result)
        assert len(result.stderr.strip().splitlines()) == 2


def test_pages_need_nothing_from_the_network(registry: Registry) -> None:
    for page in registry.site.rglob("*.html"):
        text = page.read_text()
        assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text, page
        assert "//cdn" not in text
    assert (registry.site / "static" / "uPlot.LICENSE").is_file()


# ----------------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[dev]')")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        _missing(
            "Debian's chromium and chromium-driver are missing (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}; scripts/test.sh installs it")
    pytest.skip(reason)


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    deadline = time.monotonic() + 10
    while driver.execute_script("return document.readyState") != "complete" and time.monotonic() < deadline:
        time.sleep(0.05)


def _console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _drawn(driver: Any) -> list[dict[str, Any]]:
    drawn: list[dict[str, Any]] = driver.execute_script("return window.CR.drawn")
    return drawn


def _inked(driver: Any, title_start: str) -> int:
    """Pixels drawn on the canvas of the chart whose title starts so (0: an empty plot)."""
    count: int = driver.execute_script(
        """
        var box = Array.from(document.querySelectorAll('.chart'))
            .find(b => b.dataset.title.startsWith(arguments[0]));
        var canvas = box && box.querySelector('canvas');
        if (!canvas) return 0;
        var data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        var n = 0;
        for (var i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;
        """,
        title_start,
    )
    return count


def _shot(driver: Any, name: str, tmp_path: Path) -> None:
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, min(max(int(height) + 40, 800), 2600))
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    target = os.environ.get(SHOTS_ENV)
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / f"{name}.png")
    driver.set_window_size(1400, 1000)


def _visible_ids(driver: Any) -> list[str]:
    ids: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll('#runs tbody tr'))"
        ".filter(r => r.style.display !== 'none').map(r => r.dataset.id)"
    )
    return ids


def test_index_lists_filters_and_sorts(registry: Registry, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _open(browser, registry.url("index.html"))
    assert len(_visible_ids(browser)) == 8  # the smoke-failed run is listed too
    Select(browser.find_element(By.ID, "state-filter")).select_by_value("failed")
    assert _visible_ids(browser) == [registry.ids["failed"]]
    Select(browser.find_element(By.ID, "state-filter")).select_by_value("")
    browser.find_element(By.ID, "filter").send_keys("lr=0.3")
    assert _visible_ids(browser) == [registry.ids["members"][0]]
    browser.find_element(By.ID, "filter").clear()
    browser.find_element(By.ID, "filter").send_keys(" ")  # an input event with no words: everything
    header = next(
        th for th in browser.find_elements(By.CSS_SELECTOR, "#runs th") if th.text.startswith("loss")
    )
    header.click()
    values = browser.execute_script(LOSS_COLUMN)
    numbers = [float(v) for v in values if v]
    assert (
        numbers == sorted(numbers) and len(numbers) == 6 and values[-1] == ""
    )  # the failed run: blank, last
    header.click()
    values = browser.execute_script(LOSS_COLUMN)
    assert [float(v) for v in values if v] == sorted(numbers, reverse=True)
    assert _console_errors(browser) == []
    _shot(browser, "index", tmp_path)


def test_run_page_draws_curves_and_the_verdict(registry: Registry, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, registry.url(f"runs/{registry.ids['reproduction']}.html"))
    assert "REPRODUCED" in browser.find_element(By.ID, "verdict").text
    assert "EXPERIMENT MANIFEST" in browser.find_element(By.ID, "manifest-block").text
    assert "EXPERIMENT RESULTS" in browser.find_element(By.ID, "results-block").text
    compare = f"clusterrun compare {registry.ids['base']} {registry.ids['reproduction']}"
    assert compare in browser.find_element(By.ID, "results-block").text  # the next step, not to reproduce it
    assert compare in browser.find_element(By.CSS_SELECTOR, ".box.good").text
    drawn = {d["title"]: d for d in _drawn(browser)}
    assert drawn["loss"]["series"] == 1 and drawn["loss"]["points"] == 200
    assert "final_loss" not in drawn  # a single value is a number in the table, not a curve
    assert _inked(browser, "loss") > 500
    # five steps (a loss printed per epoch): ticks at 0 1 2 3 4, not 0 0.5 1 1.5...
    splits = browser.execute_async_script(
        """var done = arguments[arguments.length - 1];
        var div = document.createElement('div'); document.body.appendChild(div);
        CR.chart(div, 'five', [{label: 'loss', xs: [0, 1, 2, 3, 4], ys: [5, 4, 3, 2, 1]}], {});
        var plot = function () { return div.querySelector('.chart').plot; };
        setTimeout(function () { done(plot().axes[0]._splits); div.remove(); }, 300);"""
    )
    assert splits and all(float(x).is_integer() for x in splits), splits
    assert _console_errors(browser) == []
    _shot(browser, "run", tmp_path)

    _open(browser, registry.url(f"runs/{registry.ids['failed']}.html"))
    assert "Sample larger than population" in browser.find_element(By.ID, "diagnosis").text
    assert _console_errors(browser) == []

    # a run whose smoke test failed ended there: its page says why, never that it "has not ended"
    _open(browser, registry.url(f"runs/{registry.ids['smoke_failed']}.html"))
    diagnosis = browser.find_element(By.ID, "diagnosis").text
    assert "Diagnosis of the smoke test" in diagnosis and "Sample larger than population" in diagnosis
    assert "never submitted" in browser.find_element(By.ID, "no-results").text
    assert "not ended" not in browser.find_element(By.TAG_NAME, "body").text
    assert "Sample larger than population" in browser.find_element(By.ID, "stderr-tail").text
    assert _console_errors(browser) == []
    _shot(browser, "smoke-failed", tmp_path)


def test_sweep_page_overlays_every_member(registry: Registry, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, registry.url(f"sweeps/{registry.ids['sweep']}.html"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#members tbody tr")
    assert sorted(r.get_attribute("data-id") for r in rows) == sorted(registry.ids["members"])
    assert rows[0].get_attribute("class") == "best" and "★" in rows[0].text
    drawn = {d["title"]: d for d in _drawn(browser)}
    assert drawn["loss (4 members)"]["series"] == 4
    assert drawn["loss vs params.lr"]["series"] == 2  # every member's final loss, and the best marked
    assert drawn["loss vs params.lr"]["points"] == 5
    assert _inked(browser, "loss (4") > 1000 and _inked(browser, "loss vs") > 100
    assert _console_errors(browser) == []
    _shot(browser, "sweep", tmp_path)


def test_compare_page_diffs_two_runs(registry: Registry, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    a, b = registry.ids["members"][1], registry.ids["members"][2]  # [0] grew in the incremental test
    _open(browser, registry.url("compare.html") + f"?a={a}&b={b}")
    deadline = time.monotonic() + 10
    while not browser.find_elements(By.CSS_SELECTOR, "section.diff") and time.monotonic() < deadline:
        time.sleep(0.1)
    config = browser.find_element(By.CSS_SELECTOR, 'section[data-kind="config"]').text
    assert "params.lr" in config and "0.05" in config and "0.02" in config
    drawn = {d["title"]: d for d in _drawn(browser)}
    assert drawn["loss"]["series"] == 2 and drawn["loss"]["points"] == 400
    assert _inked(browser, "loss") > 500
    assert _console_errors(browser) == []
    _shot(browser, "compare", tmp_path)


LONG_SCRIPT = """\
import json, os, sys
steps = int(sys.argv[2])
with open(os.environ["CLUSTERRUN_METRICS_FILE"], "a") as handle:
    for step in range(steps):  # a spike every 997 steps: thinning keeps each bucket's highest point
        handle.write(json.dumps({"step": step, "loss": 1 / (step + 1) + (step % 997 == 500)}) + "\\n")
"""
LONG_CONFIG = """\
name: long
command: python long.py --steps {steps}
params: {steps: 120000}
smoke: {params: {steps: 10}}
resources: {time: "00:05:00", nodes: 1, cpus_per_task: 1, mem: 1G, gpus: 0}
"""


def test_a_long_runs_page_draws_its_thinned_curve(browser: Any, tmp_path: Path) -> None:
    """A history of more than RAW_MAX_BYTES (120,000 lines, 5 MB) is thinned while it is read, a block
    at a time (analysis/curve_thin.py): the page gets a few thousand points, spikes included."""
    from selenium.webdriver.common.by import By

    project = make_project(tmp_path / "proj", {"long.py": LONG_SCRIPT, "configs/long.yaml": LONG_CONFIG})
    done = cli(["submit", "configs/long.yaml", "--backend", "local", "--wait", "--yes"], project)
    assert done.returncode == 0, done.stdout + done.stderr
    run_id = _run_id(done.stdout)
    assert (project / "runs" / run_id / "metrics.jsonl").stat().st_size > 4 * 1024 * 1024
    built = cli(["site", "--json"], project)
    assert built.returncode == 0, built.stderr
    script = project / "runs" / "site" / "data" / f"{run_id}.js"
    assert script.stat().st_size < 512 * 1024  # thinned, not the 5 MB of lines
    site = Registry(project, {})
    _open(browser, site.url(f"runs/{run_id}.html"))
    drawn = {d["title"]: d for d in _drawn(browser)}
    assert drawn["loss"]["series"] == 1 and 2000 < drawn["loss"]["points"] <= 4100
    spikes = browser.execute_script(
        "return Object.values(window.CR.runs)[0].series.loss[1].filter(v => v > 1).length"
    )
    assert spikes == 120  # every spike, though 29 of 30 points are dropped
    ticks = browser.execute_script(
        "var box = Array.from(document.querySelectorAll('.chart')).find(b => b.dataset.title === 'loss');"
        "return box.plot.axes[1]._values.filter(v => v);"  # the log-y axis's labels, as drawn
    )
    assert ticks and "0" not in ticks and any("e-" in t for t in ticks), ticks  # 1e-5, not "0"
    assert _inked(browser, "loss") > 500
    assert _console_errors(browser) == []
    assert "EXPERIMENT RESULTS" in browser.find_element(By.ID, "results-block").text
    _shot(browser, "long-run", tmp_path)


def test_a_failed_runs_page_gives_the_command_that_applies_its_fix(browser: Any, tmp_path: Path) -> None:
    """Next: on a run page is the fix, and under it, when the fix names a change, the command that makes
    it (records/resubmit.py): here an ad-hoc run that read an untracked file, its smoke test failed."""
    from selenium.webdriver.common.by import By

    project = make_project(tmp_path / "proj")
    (project / "data").mkdir()
    (project / "data" / "x.csv").write_text("1,2\n")  # in the checkout, not tracked by git
    failed = cli(["submit", "--backend", "local", "--", "python", "-c", "open('data/x.csv').read()"], project)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    [run] = [p for p in (project / "runs").iterdir() if (p / "manifest.json").is_file()]
    built = cli(["site", "--json"], project)
    assert built.returncode == 0, built.stderr
    _open(browser, Registry(project, {}).url(f"runs/{run.name}.html"))
    box = browser.find_element(By.ID, "diagnosis")
    assert "missing_file" in box.text and "not tracked by git" in box.text, box.text
    again = browser.find_element(By.ID, "again").text
    # its own command line, the change before the -- (not the config file it was kept as), for a shell
    assert shlex.split(again) == [
        *("clusterrun", "submit", "--backend", "local", "+data.x_csv=data/x.csv", "--"),
        *("python", "-c", "open('data/x.csv').read()"),
    ], again
    assert _console_errors(browser) == []
    _shot(browser, "failed-again", tmp_path)


# ----------------------------------------------------------------------------------- plot and export


def test_plot_draws_a_sweep_in_the_terminal(registry: Registry) -> None:
    drawn = cli(["plot", registry.ids["sweep"], "--width", "90", "--height", "15"], registry.project)
    assert drawn.returncode == 0, drawn.stderr
    assert "loss (min)" in drawn.stdout and "best final loss" in drawn.stdout
    assert all(f"lr={lr}" in drawn.stdout for lr in ("0.3", "0.05", "0.02", "0.01"))
    from clusterrun.cli.plot import MARKERS

    assert "*" not in MARKERS  # the best member's label is marked '*': no curve is drawn with it
    one = cli(["plot", registry.ids["base"], "--json"], registry.project)
    curves = json.loads(one.stdout)["curves"]
    assert len(curves) == 1 and len(curves[0]["values"]) == 200 and curves[0]["steps"][:2] == [1, 2]
    named = cli(["plot", registry.ids["sweep"], "loss", "--width", "90", "--height", "15"], registry.project)
    assert named.returncode == 0 and named.stdout == drawn.stdout, named.stderr  # `plot RUN METRIC` too
    both = cli(["plot", registry.ids["sweep"], "loss", "--metric", "time"], registry.project)
    assert both.returncode == 2 and "two metrics given" in both.stderr
    typo = cli(["plot", registry.ids["base"], "--metric", "los"], registry.project)
    assert typo.returncode == 2 and "hint: try --metric loss" in typo.stderr
    no_traceback(typo)


def test_export_tables(registry: Registry, tmp_path: Path) -> None:
    import csv

    out = tmp_path / "runs.csv"
    made = cli(["export", "--to", "csv", "--out", str(out)], registry.project)
    assert made.returncode == 0, made.stderr
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 8 and {"run_id", "state", "params.lr", "metrics.loss", "git_commit"} <= set(rows[0])
    assert sorted(r["params.lr"] for r in rows if r["sweep"]) == ["0.01", "0.02", "0.05", "0.3"]
    lines = cli(["export", registry.ids["sweep"], "--to", "jsonl"], registry.project).stdout.splitlines()
    assert len(lines) == 4 and all(json.loads(line)["metrics.loss"] > 0 for line in lines)
    for bad in (["--to", "csv", "--uri", "file:/x"], ["--to", "mlflow", "--out", str(out)], ["--to", "xml"]):
        result = cli(["export", *bad], registry.project)
        assert result.returncode == 2, bad
        no_traceback(result)


def test_export_to_mlflow_reads_back_and_is_idempotent(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow")  # the dev extra installs mlflow-skinny
    uri = (tmp_path / "mlruns").as_uri()
    args = ["export", registry.ids["sweep"], registry.ids["failed"], "--to", "mlflow", "--uri", uri, "--json"]
    first = cli(args, registry.project)
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["exported"]) == 5
    again = json.loads(cli(args, registry.project).stdout)
    assert again["exported"] == [] and len(again["existing"]) == 5
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("quickstart")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 5  # exporting twice made no duplicates
        by_id = {r.data.tags["clusterrun.run_id"]: r for r in runs}
        member = by_id[registry.ids["members"][1]]
        assert member.data.params["lr"] == "0.05" and member.data.params["seed"] == "42"
        assert member.data.tags["clusterrun.state"] == "completed"
        assert member.data.tags["clusterrun.sweep"] == registry.ids["sweep"]
        assert len(member.data.tags["mlflow.source.git.commit"]) == 40
        assert member.info.status == "FINISHED" and by_id[registry.ids["failed"]].info.status == "FAILED"
        loss = client.get_metric_history(member.info.run_id, "loss")
        assert [m.step for m in loss] == list(range(1, 201))
        final = json.loads(
            (registry.project / "runs" / member.data.tags["clusterrun.run_id"] / "summary.json").read_text()
        )
        assert loss[-1].value == final["metrics"]["loss"]
        artifacts = mlflow.artifacts.load_dict(f"{member.info.artifact_uri}/clusterrun/artifacts.json")
        assert [f["path"] for f in artifacts["files"]] == ["artifacts/model.json"]
