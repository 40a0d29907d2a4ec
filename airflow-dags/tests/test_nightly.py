"""recsys_nightly in a real Airflow (dag.test()) with the real spark-submit of pyspark 4.1.0 (the jar's Spark
version), on the session's lake (the Online Retail replay, conftest.py) and redis-server: a missing Variable fails
the task naming it; a date without events succeeds with empty outputs and says so; the sample's last day runs end to
end and leaves the tables, model and Redis keys it must. With ReplayChainIT (MovieLens), this is the whole chain on
the real replays."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import redis

from conftest import EMPTY_DAY, nightly_config, run_dag


def _rows(table_dir, **partition) -> list[dict]:
    """Rows of a Delta table's Parquet files (of one partition), read without Spark. Files that OPTIMIZE replaced
    are still there until VACUUM, so use this for sets and for emptiness, not for counts."""
    folder = table_dir
    for k, v in partition.items():
        folder = folder / f"{k}={v}"
    return [r for f in folder.rglob("*.parquet") for r in pq.read_table(f).to_pylist()] if folder.exists() else []


def test_a_missing_variable_fails_the_task_naming_it(tmp_path, capsys):
    with nightly_config(tmp_path / "lake", 1, AIRFLOW_VAR_RECSYS_LAKE=None):
        dag, run, states = run_dag("recsys_nightly", EMPTY_DAY)
    assert run.state == "failed", states
    assert states["silver"] == "failed" and states["als"] == "upstream_failed", states
    out = capsys.readouterr()
    assert "recsys_lake" in out.out + out.err


def test_a_date_without_events_succeeds_with_empty_outputs_and_says_so(lake, redis_port, capsys):
    with nightly_config(lake, redis_port):
        dag, run, states = run_dag("recsys_nightly", EMPTY_DAY)
    assert run.state == "success", states
    assert set(states.values()) == {"success"}, states
    assert not _rows(lake / "silver" / "events", event_date=EMPTY_DAY)
    assert not _rows(lake / "gold" / "user_features", as_of_date=EMPTY_DAY)
    metrics = json.loads((lake / "models" / "als" / f"v{EMPTY_DAY:%Y%m%d}" / "metrics.json").read_text())
    assert metrics["trained"] is False and "no user" in metrics["reason"].lower(), metrics
    assert not (lake / "models" / "als" / "PROMOTED.json").exists()
    assert redis.Redis(port=redis_port).dbsize() == 0, "nothing was published"
    out = capsys.readouterr()
    said = out.out + out.err
    assert f"no model trained for {EMPTY_DAY:%Y%m%d}" in said and "no model promoted yet" in said


def test_the_nightly_dag_runs_end_to_end(nightly):
    lake, redis_port, day, dag, run = nightly.lake, nightly.redis_port, nightly.day, nightly.dag, nightly.run
    states = nightly.states
    assert run.state == "success", states
    assert set(states) == set(dag.task_ids) and set(states.values()) == {"success"}, states
    version = "v" + day.strftime("%Y%m%d")
    assert any((lake / "silver" / "events" / f"event_date={day}").glob("*.parquet"))
    assert any((lake / "gold" / "user_features").rglob("*.parquet"))
    metrics = json.loads((lake / "models" / "als" / version / "metrics.json").read_text())
    assert metrics["promoted"] is True and metrics["published_users"] > 0
    assert json.loads((lake / "models" / "als" / "PROMOTED.json").read_text())["version"] == version
    assert any((lake / "features" / "user_recommendations").rglob("*.parquet"))
    # no list offers an item its user bought (read from the tables' Parquet files: duplicates from OPTIMIZE's
    # rewrite do not matter to these sets)
    silver = [pq.read_table(f, columns=["user_id", "item_id", "event_type"]).to_pylist()
              for f in (lake / "silver" / "events").rglob("*.parquet")]
    bought = {(r["user_id"], r["item_id"]) for t in silver for r in t if r["event_type"] == "purchase"}
    assert bought, "the retail replay has purchases"
    recs = [r for f in (lake / "gold" / "recommendations" / f"model_version={version}").rglob("*.parquet")
            for r in pq.read_table(f, columns=["user_id", "items"]).to_pylist()]
    assert len({r["user_id"] for r in recs}) == metrics["published_users"]
    assert not [(r["user_id"], i) for r in recs for i in r["items"] if (r["user_id"], i) in bought]
    keys = redis.Redis(port=redis_port).dbsize()
    assert keys >= metrics["published_users"], "the users' features and recommendations are in Redis"
