"""recsys_maintenance: weekly OPTIMIZE (Z-order by user_id for the event tables) and VACUUM with Delta's safe
168-hour retention, over every table of the lake (the nightly DAG only touches the date's partitions)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from recsys_common import DEFAULT_ARGS, START_DATE, spark_job

with DAG(
    dag_id="recsys_maintenance",
    description="Weekly OPTIMIZE and VACUUM of every lake table",
    schedule="0 4 * * 0",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args=DEFAULT_ARGS,
    tags=["recsys", "maintenance", "spark"],
    doc_md=__doc__,
) as dag:
    spark_job("optimize_and_vacuum", "maintenance", execution_timeout=timedelta(hours=5))
