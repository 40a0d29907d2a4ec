"""recsys_nightly end to end in a real Airflow (dag.test()) with the real spark-submit of pyspark 4.1.0 (the
jar's Spark version), on a lake this test builds from the Online Retail replay (the sample in data/samples through
Kafka into bronze, by ./run demo --no-online) and a redis-server of its own: every task succeeds and leaves the
tables, model and Redis keys it must. With ReplayChainIT (MovieLens), this is the whole chain on the real replays."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import redis
from airflow.models import DagBag

from conftest import DAGS, REPO, migrate_db

APP_JAR = REPO / "infra" / "app" / "target" / "recsys-app-0.1.0-SNAPSHOT.jar"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    assert APP_JAR.exists(), f"{APP_JAR} is missing: build the project first (./run build)"
    lake = tmp_path_factory.mktemp("nightly") / "lake"
    done = subprocess.run([str(REPO / "run"), "demo", "--no-online", "--dataset", "online-retail",
                           "--data-dir", str(REPO / "data" / "samples"), "--lake", str(lake)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return lake


@pytest.fixture(scope="module")
def redis_port():
    server = shutil.which("redis-server") or os.environ.get("REDIS_SERVER")
    assert server, "redis-server is not on PATH (./run installs it)"
    port = _free_port()
    p = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                         stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    yield port
    p.terminate()
    p.wait(10)


def test_the_nightly_dag_runs_end_to_end(lake, redis_port, monkeypatch):
    migrate_db()
    day = date(2010, 12, 2)  # the sample's last day: 38 customers bought 5 or more items
    bin_dir = str(Path(sys.executable).parent)  # pyspark's spark-submit
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW_VAR_RECSYS_LAKE", str(lake))
    monkeypatch.setenv("AIRFLOW_VAR_RECSYS_REDIS", f"127.0.0.1:{redis_port}")
    monkeypatch.setenv("AIRFLOW_VAR_RECSYS_APP_JAR", str(APP_JAR))
    monkeypatch.setenv("AIRFLOW_VAR_RECSYS_DRIVER_JAVA_OPTIONS", "-Dcom.google.protobuf.use_unsafe_pre22_gencode=true")
    monkeypatch.setenv("AIRFLOW_CONN_RECSYS_SPARK", json.dumps({"conn_type": "spark", "host": "local[2]"}))
    assert redis.Redis(port=redis_port).dbsize() == 0

    dag = DagBag(dag_folder=str(DAGS)).dags["recsys_nightly"]
    run = dag.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=timezone.utc))

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
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
    import pyarrow.parquet as pq

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
