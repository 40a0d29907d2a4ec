"""What the recsys DAGs share: configuration read at run time, the spark-submit task, and failure alerts.

Configuration (Airflow Variables, read when a task runs, never when the file is parsed):
  recsys_lake          lake root (a path, file:/..., or s3a://bucket/prefix)              required
  recsys_app_jar       the application jar (infra/app/target/recsys-app-*.jar)             required
  recsys_redis         online store, host:port                                             required by jobs that write Redis
  recsys_s3_endpoint   S3-compatible endpoint for s3a:// lakes (MinIO)                      optional
  recsys_driver_java_options  extra JVM flags for the driver                               optional
  recsys_alert_webhook URL that receives a JSON POST when a task fails                    optional
Connection: ``recsys_spark`` (type spark): host = the master (local[2], spark://host:7077, yarn, k8s://...),
extra ``{"deploy-mode": "client"}`` and so on, as the Apache Spark provider reads it.
A missing Variable or connection fails the task with an error naming it.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from datetime import datetime, timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

SPARK_CONN_ID = "recsys_spark"
PACKAGE = "io.recsys"

# Templates, rendered when the task runs (a missing Variable fails that task, naming the Variable).
LAKE = "{{ var.value.recsys_lake }}"
REDIS = "{{ var.value.recsys_redis }}"
APP_JAR = "{{ var.value.recsys_app_jar }}"
S3_ENDPOINT = "{{ var.value.get('recsys_s3_endpoint', '') }}"

JOBS = {
    "silver": f"{PACKAGE}.batch.silver.SilverJob",
    "gold-features": f"{PACKAGE}.batch.gold.GoldFeaturesJob",
    "backfill": f"{PACKAGE}.batch.backfill.BackfillJob",
    "als": f"{PACKAGE}.batch.als.AlsCommand",
    "maintenance": f"{PACKAGE}.batch.maintenance.MaintenanceJob",
    "erase": f"{PACKAGE}.batch.erasure.ErasureJob",
}

log = logging.getLogger(__name__)


def alert_on_failure(context) -> None:
    """on_failure_callback: logs the failure and, if the Variable recsys_alert_webhook is set, POSTs it as JSON."""
    from airflow.sdk import Variable  # run time only

    ti = context.get("task_instance")
    payload = {
        "dag_id": ti.dag_id if ti else None,
        "task_id": ti.task_id if ti else None,
        "run_id": context.get("run_id"),
        "logical_date": str(context.get("logical_date")),
        "try_number": ti.try_number if ti else None,
        "exception": str(context.get("exception")),
    }
    log.error("recsys task failed: %s", payload)
    url = Variable.get("recsys_alert_webhook", default=None)
    if url:
        request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except OSError as e:  # an alert that cannot be sent must not hide the task's own failure
            log.error("could not POST the alert to %s: %s", url, e)


# Early, so that historic dates can be run (airflow dags backfill, dag.test on a replay's dates); catchup is off
# in every DAG, so nothing runs by itself for the dates in between.
START_DATE = datetime(2000, 1, 1)

DEFAULT_ARGS = {
    "owner": "recsys",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "on_failure_callback": alert_on_failure,
}


def spark_job(task_id: str, job: str, *args: str, execution_timeout: timedelta = timedelta(hours=2),
              **kwargs) -> SparkSubmitOperator:
    """One recsys job as a spark-submit of the application jar, on the lake of the Variables."""
    return SparkSubmitOperator(
        task_id=task_id,
        conn_id=SPARK_CONN_ID,
        application=APP_JAR,
        java_class=JOBS[job],
        name=f"recsys-{job}-{{{{ ds }}}}",
        application_args=["--lake", LAKE, "--s3-endpoint", S3_ENDPOINT, *args],
        conf={
            "spark.sql.session.timeZone": "UTC",
            "spark.driver.extraJavaOptions": "{{ var.value.get('recsys_driver_java_options', '') }}",
        },
        execution_timeout=execution_timeout,
        **kwargs,
    )
