"""recsys_gdpr_erase: triggered with the user ids in the run conf, ``{"user_ids": ["u1", "u2"]}``.

validate_request (refuses an empty or malformed request, naming what is wrong) -> erase (every Delta table, the
Redis hashes, the ALS factors; the ids kept only hashed so a replay cannot bring them back; one audit row) ->
vacuum (removes the files that still hold them, retention 0). An unknown user id is recorded as such in the audit.
"""

from __future__ import annotations

import re

from airflow.sdk import DAG, Param, task

from recsys_common import DEFAULT_ARGS, REDIS, START_DATE, spark_job

USER_ID = re.compile(r"^[^,\s]{1,256}$")

with DAG(
    dag_id="recsys_gdpr_erase",
    description="Erase users from the lake, Redis and the models (trigger with {\"user_ids\": [...]})",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"user_ids": Param([], type="array", description="user_id values to erase")},
    tags=["recsys", "gdpr", "spark"],
    doc_md=__doc__,
) as dag:

    @task(task_id="validate_request")
    def validate_request(params: dict | None = None) -> str:
        ids = (params or {}).get("user_ids") or []
        if not isinstance(ids, list) or not ids:
            raise ValueError("the run conf has no user_ids: trigger with {\"user_ids\": [\"u1\", ...]}")
        bad = [u for u in ids if not isinstance(u, str) or not USER_ID.match(u)]
        if bad:
            raise ValueError(f"user_ids must be non-empty strings without commas or spaces; refused: {bad[:5]}")
        return ",".join(dict.fromkeys(ids))

    users = validate_request()
    erase = spark_job("erase", "erase", "--users", "{{ ti.xcom_pull(task_ids='validate_request') }}", "--redis", REDIS,
                      retries=0)
    vacuum = spark_job("vacuum", "maintenance", "--no-optimize", "--retain-hours", "0", "--allow-short-retention")
    users >> erase >> vacuum
