"""The DAGs load in a real Airflow, follow the team's policies, parse without touching anything, and the
watchdog restarts a dead job and leaves a live one alone (dag.test() in a real Airflow)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
import time
from datetime import datetime, timezone

import pytest
from airflow.models import DagBag
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

from conftest import DAGS, migrate_db

EXPECTED = {"recsys_nightly", "recsys_streaming_watchdog", "recsys_maintenance", "recsys_gdpr_erase"}
# tasks that must not retry by themselves: an erasure writes an audit row per run
NO_RETRY = {("recsys_gdpr_erase", "erase")}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_every_dag_loads_without_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_policies(dagbag):
    for dag_id in EXPECTED:
        dag = dagbag.dags[dag_id]
        assert "recsys" in dag.tags, dag_id
        assert dag.catchup is False, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.doc_md, f"{dag_id} has no documentation"
        for t in dag.tasks:
            where = f"{dag_id}.{t.task_id}"
            if (dag_id, t.task_id) not in NO_RETRY:
                assert t.retries >= 1, f"{where} does not retry"
            assert t.on_failure_callback, f"{where} sends no alert on failure"
            if isinstance(t, SparkSubmitOperator):
                assert t._conn_id == "recsys_spark", where
                assert t.execution_timeout is not None, f"{where} can run forever"
                assert "{{ var.value.recsys_lake }}" in t.application_args, f"{where} hard-codes its lake"


def test_parsing_reads_no_variable_and_opens_no_connection(monkeypatch):
    """Configuration is read when tasks run: parsing works with no Variable defined and the network closed."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"touched at parse time: {args[:2]}")

    for name in [k for k in os.environ if k.startswith("AIRFLOW_VAR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    import airflow.sdk

    monkeypatch.setattr(airflow.sdk.Variable, "get", staticmethod(refuse))
    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXPECTED


class _Metrics(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 (the http.server API)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_watchdog_restarts_a_dead_job_and_leaves_a_live_one(tmp_path, monkeypatch, dagbag):
    migrate_db()
    _Metrics.body = (
        "# TYPE recsys_stream_last_progress_timestamp_seconds gauge\n"
        f'recsys_stream_last_progress_timestamp_seconds{{query="online-user_activity_1h"}} {time.time() - 20}\n'
        'recsys_stream_offsets_behind_latest{query="online-user_activity_1h"} 12.0\n').encode()
    server = http.server.HTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        jobs = {
            "online-features": {"metrics_url": f"http://127.0.0.1:{server.server_port}/metrics",
                                "max_silence_seconds": 300, "restart_command": f"touch {tmp_path}/online-restarted"},
            "bronze-ingest": {"metrics_url": f"http://127.0.0.1:{_free_port()}/metrics",
                              "max_silence_seconds": 300, "restart_command": f"touch {tmp_path}/bronze-restarted"},
        }
        monkeypatch.setenv("AIRFLOW_VAR_RECSYS_STREAMING_JOBS", json.dumps(jobs))
        run = dagbag.dags["recsys_streaming_watchdog"].test(logical_date=datetime.now(timezone.utc))
        assert run.state == "success"
        assert (tmp_path / "bronze-restarted").exists(), "the dead job was restarted"
        assert not (tmp_path / "online-restarted").exists(), "the live job was left alone"
    finally:
        server.shutdown()


def test_a_stalled_job_without_a_restart_command_fails_the_run_naming_it(monkeypatch, dagbag):
    migrate_db()
    from recsys_watchdog import assess, parse_metrics

    assert parse_metrics('a{q="x"} 1\na{q="y"} 3\n# c\nb 2\n') == {"a": 3.0, "b": 2.0}
    _Metrics.body = b"recsys_stream_last_progress_timestamp_seconds 1000\n"
    server = http.server.HTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        verdict = assess("bronze-ingest", {"metrics_url": url}, now=2000.0)
        assert verdict["state"] == "stalled" and not verdict["healthy"]
        monkeypatch.setenv("AIRFLOW_VAR_RECSYS_STREAMING_JOBS", json.dumps({"bronze-ingest": {"metrics_url": url}}))
        run = dagbag.dags["recsys_streaming_watchdog"].test(logical_date=datetime.now(timezone.utc))
        assert run.state == "failed"
    finally:
        server.shutdown()
