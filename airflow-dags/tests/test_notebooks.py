"""The notebooks (notebooks/*.ipynb) executed headless, as `./run notebooks` runs them (papermill, in the project's
.venv that has pyspark 4.1.0, delta-spark 4.3.1 and Feast), on the lake and Redis that recsys_nightly just filled
(conftest.py): each runs to its end, draws every plot, and what its summary reports matches the lake, read here
without Spark. Pointed at a missing lake, a notebook stops in its first cell after the parameters, naming the path.
The committed notebooks carry no outputs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import REPO

NOTEBOOKS = REPO / "notebooks"
PYTHON = REPO / ".venv" / "bin" / "python"  # ./run test installs requirements.txt there


def _run(args: list[str], timeout: int = 900) -> tuple[int, list[dict], str]:
    assert PYTHON.exists(), f"{PYTHON} is missing: ./run test installs the project's .venv first"
    # a small lake: the C1 compiler alone starts the notebooks' Spark drivers faster (recsys_notebook.py)
    env = dict(os.environ, RECSYS_NOTEBOOK_JAVA_OPTIONS="-XX:TieredStopAtLevel=1")
    done = subprocess.run([str(PYTHON), str(NOTEBOOKS / "run_notebooks.py"), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=env)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, results, done.stdout[-3000:] + done.stderr[-5000:]


def _plot_cells(executed: Path) -> list[dict]:
    nb = json.loads(executed.read_text())
    return [c for c in nb["cells"] if "plot" in c.get("metadata", {}).get("tags", [])]


def _live(table: Path) -> list[dict]:
    """Rows of the files a Delta table's log says are live (adds minus removes), read with pyarrow."""
    live = {}
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = True
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    from urllib.parse import unquote

    return [r for p in live for r in pq.read_table(table / unquote(p)).to_pylist()]


@pytest.fixture(scope="module")
def executed(nightly, tmp_path_factory):
    out = tmp_path_factory.mktemp("notebooks")
    code, results, log = _run(["--lake", str(nightly.lake), "--redis", f"127.0.0.1:{nightly.redis_port}",
                               "--out", str(out), "--parallel", "3"])
    assert code == 0, log
    return out, {r["notebook"][:2]: r for r in results}


def test_every_notebook_runs_and_draws_its_plots(executed):
    out, results = executed
    assert set(results) == {"01", "02", "03"}, results
    for key, r in results.items():
        assert r["ok"], r
        cells = _plot_cells(Path(r["output"]))
        assert cells, f"{r['notebook']} tags its plot cells"
        for cell in cells:
            assert any("image/png" in o.get("data", {}) for o in cell["outputs"]), \
                f"{r['notebook']}: a plot cell drew nothing:\n{''.join(cell['source'])[:300]}"
        errors = [o for c in json.loads(Path(r["output"]).read_text())["cells"] for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, errors


def test_the_lake_notebook_counts_what_the_lake_holds(executed, nightly):
    summary = executed[1]["01"]["summary"]
    bronze = _live(nightly.lake / "bronze" / "events")
    quarantine = _live(nightly.lake / "bronze" / "quarantine")
    assert summary["bronze_rows"] == len(bronze) > 0
    assert summary["quarantine_rows"] == len(quarantine) > 0, "the lake was built with bad records mixed in"
    reasons = {}
    for r in quarantine:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    assert summary["quarantine_reasons"] == reasons
    assert summary["silver_duplicate_event_ids"] == 0 and summary["silver_rows"] > 0


def test_the_features_notebook_finds_online_equal_to_offline_through_feast(executed):
    summary = executed[1]["02"]["summary"]
    assert summary["online"] is True
    assert summary["compared"] > 0 and set(summary["mismatches"].values()) == {0}, summary
    assert summary["stream_compared"] > 0 and set(summary["stream_mismatches"].values()) == {0}, summary
    assert "user_recommendations" in summary["views_with_log"]


def test_the_recommendations_notebook_shows_the_promoted_model_and_what_redis_serves(executed, nightly):
    summary = executed[1]["03"]["summary"]
    promoted = json.loads((nightly.lake / "models" / "als" / "PROMOTED.json").read_text())["version"]
    assert summary["promoted"] == promoted and promoted in summary["versions"]
    assert summary["recommended"] and summary["already_bought"] == []
    assert summary["online_items"] == summary["recommended"], "Redis serves the list gold.recommendations holds"


def test_a_notebook_pointed_at_a_missing_lake_stops_in_its_first_cell_naming_the_path(tmp_path):
    missing = tmp_path / "no-lake-here"
    code, results, log = _run(["--lake", str(missing), "--out", str(tmp_path / "out"), "01"], timeout=300)
    assert code == 1, log
    (r,) = results
    assert not r["ok"] and r["error"] == "FileNotFoundError", r
    assert str(missing) in r["message"], r
    nb = json.loads(Path(r["output"]).read_text())
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tags = [c.get("metadata", {}).get("tags", []) for c in code_cells]
    first = next(i for i, t in enumerate(tags) if "parameters" not in t and "injected-parameters" not in t)
    assert any(o.get("output_type") == "error" for o in code_cells[first]["outputs"]), "it stopped in its first cell"
    assert all(c.get("execution_count") is None for c in code_cells[first + 1:]), "and ran nothing after it"


def test_the_committed_notebooks_carry_no_outputs():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
                 and (c.get("outputs") or c.get("execution_count") is not None)]
        assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them (./run notebooks --strip)"
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"]), path.name


def test_a_kernel_that_dies_while_starting_is_started_once_more_and_not_twice():
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_notebooks", NOTEBOOKS / "run_notebooks.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    died = RuntimeError(runner.KERNEL_DIED)
    calls = []

    def dies_once():
        calls.append(1)
        if len(calls) == 1:
            raise died
        return "ran"

    assert runner.with_kernel_retry(dies_once, "01_x.ipynb") == "ran"
    assert len(calls) == 2

    def always_dies():
        calls.append(1)
        raise died

    calls.clear()
    with pytest.raises(RuntimeError, match="Kernel died"):
        runner.with_kernel_retry(always_dies, "01_x.ipynb")
    assert len(calls) == 2

    def fails_otherwise():
        calls.append(1)
        raise RuntimeError("a cell failed")

    calls.clear()
    with pytest.raises(RuntimeError, match="a cell failed"):
        runner.with_kernel_retry(fails_otherwise, "01_x.ipynb")
    assert len(calls) == 1
