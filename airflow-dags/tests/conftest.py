"""Airflow runs from a scratch AIRFLOW_HOME (SQLite metadata database) with the DAGs of this folder.

The session's fixtures build one small lake (the Online Retail sample through Kafka into bronze, by ./run demo
--no-online, with bad records mixed in), start one redis-server and run recsys_nightly on them once: the nightly
test checks what the run left, and the notebooks run on the same lake and online store afterwards."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parent.parent / "dags"
REPO = DAGS.parent.parent

_home = Path(tempfile.mkdtemp(prefix="recsys-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_home)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(DAGS))

_migrated = False


def migrate_db() -> None:
    """The metadata database that dag.test() needs, created once per session."""
    global _migrated
    if not _migrated:
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
        _migrated = True


APP_JAR = REPO / "infra" / "app" / "target" / "recsys-app-0.1.0-SNAPSHOT.jar"
NIGHTLY_DAY = date(2010, 12, 2)  # the sample's last day: 38 customers bought 5 or more items
EMPTY_DAY = date(2010, 11, 30)  # before the sample's first day: no events, no history


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def lake(tmp_path_factory) -> Path:
    assert APP_JAR.exists(), f"{APP_JAR} is missing: build the project first (./run build)"
    lake = tmp_path_factory.mktemp("nightly") / "lake"
    done = subprocess.run([str(REPO / "run"), "demo", "--no-online", "--dataset", "online-retail",
                           "--data-dir", str(REPO / "data" / "samples"), "--bad-ratio", "0.01", "--lake", str(lake)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return lake


@pytest.fixture(scope="session")
def redis_port():
    import redis

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


@contextmanager
def nightly_config(lake: Path, redis_port: int, **overrides):
    """The Variables and the connection of the DAGs, as a deployment sets them (environment variables), with the
    pyspark's spark-submit of this venv on PATH; overrides set (a value) or remove (None) single variables."""
    env = {
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
        "SPARK_LOCAL_IP": "127.0.0.1",
        "AIRFLOW_VAR_RECSYS_LAKE": str(lake),
        "AIRFLOW_VAR_RECSYS_REDIS": f"127.0.0.1:{redis_port}",
        "AIRFLOW_VAR_RECSYS_APP_JAR": str(APP_JAR),
        # (-XX:TieredStopAtLevel=1 would start each job about 4 s sooner, but its larger frames overflow the
        # stack deserializing ALS's 10-iteration lineage: measured, StackOverflowError in the als task)
        # Spark's code generation off: compiling each plan costs more than running it on the sample's few
        # thousand rows (as in the Java tests' SparkTestSession; ReplayChainIT runs the chain with the defaults)
        "AIRFLOW_VAR_RECSYS_DRIVER_JAVA_OPTIONS": "-Dcom.google.protobuf.use_unsafe_pre22_gencode=true "
                                                  "-Dspark.sql.codegen.wholeStage=false "
                                                  "-Dspark.sql.codegen.factoryMode=NO_CODEGEN",
        "AIRFLOW_CONN_RECSYS_SPARK": json.dumps({"conn_type": "spark", "host": "local[2]"}),
    }
    env.update(overrides)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            if v is None:
                mp.delenv(k, raising=False)
            else:
                mp.setenv(k, v)
        yield


def run_dag(dag_id: str, day: date, retries: int = 0):
    """dag.test() of a DAG for a logical date. Without retries (the default here), a failing task fails the run at
    once: dag.test() would otherwise wait out the DAG's retry delays (5 minutes and more, test_policies checks them)."""
    from airflow.models import DagBag

    migrate_db()
    dag = DagBag(dag_folder=str(DAGS)).dags[dag_id]
    for t in dag.tasks:
        t.retries = retries
    run = dag.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=timezone.utc))
    return dag, run, {ti.task_id: ti.state for ti in run.get_task_instances()}


@dataclass
class NightlyRun:
    lake: Path
    redis_port: int
    day: date
    dag: object
    run: object
    states: dict


@pytest.fixture(scope="session")
def nightly(lake, redis_port) -> NightlyRun:
    """recsys_nightly run once, for NIGHTLY_DAY, on the session's lake and Redis."""
    with nightly_config(lake, redis_port):
        dag, run, states = run_dag("recsys_nightly", NIGHTLY_DAY)
    return NightlyRun(lake, redis_port, NIGHTLY_DAY, dag, run, states)
