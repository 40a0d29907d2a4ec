"""recsys_nightly: the nightly refresh for the logical date (``{{ ds }}``), one spark-submit per job.

silver -> gold_features (long-horizon views, materialized to Redis) -> correct_streaming_features (recompute the
streaming views from silver, rewrite late-changed windows online) -> als (train, evaluate against popularity and
the promoted model, gate, publish to gold and Redis) -> als_gate (reports the gate's decision) ->
check_freshness (the promoted model must be recent: an SLA on what serving gets) -> maintenance (OPTIMIZE of
the date's partitions, compacting the streaming jobs' small files; VACUUM, which lists every file of every table,
runs weekly in recsys_maintenance). Every job is idempotent for its date, so a retry or a re-run gives the same tables.
A date with no events succeeds with empty partitions (each job says so in its log); with no history at all, the
ALS job trains nothing and says why in metrics.json, and the checks pass saying so.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from recsys_common import DEFAULT_ARGS, REDIS, START_DATE, spark_job

with DAG(
    dag_id="recsys_nightly",
    description="silver -> long-horizon features -> correction -> ALS with its gate -> maintenance",
    schedule="0 2 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=8),
    default_args=DEFAULT_ARGS,
    tags=["recsys", "nightly", "spark"],
    doc_md=__doc__,
) as dag:
    silver = spark_job("silver", "silver", "--date", "{{ ds }}")
    gold = spark_job("gold_features", "gold-features", "--date", "{{ ds }}", "--redis", REDIS)
    correct = spark_job("correct_streaming_features", "backfill", "--date", "{{ ds }}", "--redis", REDIS,
                        "--mode", "correct")
    als = spark_job("als", "als", "--date", "{{ ds }}", "--redis", REDIS)

    @task(task_id="als_gate")
    def als_gate(ds_nodash: str | None = None) -> dict:
        """The gate's decision for the date's model, from models/als/v<date>/metrics.json."""
        from recsys_lake import read_json

        metrics = read_json(f"models/als/v{ds_nodash}/metrics.json")
        if not metrics.get("trained", True):
            print(f"ALS gate: no model trained for {ds_nodash}: {metrics['reason']}")
            return {"version": metrics["version"], "promoted": False, "reason": metrics["reason"]}
        decision = {
            "version": metrics["version"],
            "promoted": metrics["promoted"],
            "ndcg": metrics["als"]["ndcg"],
            "popularity_ndcg": metrics["popularity"]["ndcg"],
            "promoted_before": metrics.get("promoted_before"),
        }
        print("ALS gate:", json.dumps(decision))
        return decision

    @task(task_id="check_freshness")
    def check_freshness(ds: str | None = None) -> str:
        """Fails when the promoted model is older than recsys_max_model_age_days (default 2) as of the date."""
        from airflow.sdk import Variable

        from recsys_lake import read_json

        max_age = int(Variable.get("recsys_max_model_age_days", default="2"))
        try:
            version = read_json("models/als/PROMOTED.json")["version"]
        except FileNotFoundError:
            today = read_json(f"models/als/v{ds.replace('-', '')}/metrics.json")
            if not today.get("trained", True):  # no history yet: nothing to be stale
                print(f"no model promoted yet: {today['reason']}")
                return "none"
            raise
        age = (datetime.strptime(ds, "%Y-%m-%d") - datetime.strptime(version[1:], "%Y%m%d")).days
        if age > max_age:
            raise RuntimeError(f"the promoted model {version} is {age} days old on {ds} (more than "
                               f"recsys_max_model_age_days = {max_age}): recommendations are going stale")
        print(f"promoted model {version}: {age} days old on {ds}")
        return version

    maintenance = spark_job("maintenance", "maintenance", "--date", "{{ ds }}", "--no-vacuum")

    silver >> gold >> correct >> als >> als_gate() >> check_freshness() >> maintenance
