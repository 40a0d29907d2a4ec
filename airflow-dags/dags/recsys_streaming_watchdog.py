"""recsys_streaming_watchdog: every 5 minutes, checks each streaming job's progress on its Prometheus endpoint
and restarts a job that is dead (no answer) or stalled (no micro-batch progress for too long).

Variable ``recsys_streaming_jobs`` (JSON), one entry per job:
  {"bronze-ingest": {"metrics_url": "http://driver:9464/metrics", "max_silence_seconds": 300,
                     "max_offsets_behind": 1000000, "restart_command": "spark-submit ... (or kubectl ...)"}}
The metric read is ``recsys_stream_last_progress_timestamp_seconds`` (the end of the last micro-batch; with
``recsys_stream_offsets_behind_latest`` in the report). A restart runs the job's restart_command; the task fails
when a restart fails or when a job has no restart_command, so the alert names the job.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, task

from recsys_common import DEFAULT_ARGS, START_DATE

with DAG(
    dag_id="recsys_streaming_watchdog",
    description="Restart dead or stalled streaming jobs (Prometheus progress metrics)",
    schedule=timedelta(minutes=5),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=4),
    default_args={**DEFAULT_ARGS, "retries": 1, "retry_delay": timedelta(seconds=30)},
    tags=["recsys", "streaming", "watchdog"],
    doc_md=__doc__,
) as dag:

    @task(task_id="check_and_restart")
    def check_and_restart() -> dict:
        import json
        import subprocess
        import time

        from airflow.sdk import Variable

        from recsys_watchdog import assess

        jobs = json.loads(Variable.get("recsys_streaming_jobs"))
        report, failures = {}, []
        for name, spec in jobs.items():
            verdict = assess(name, spec, time.time())
            report[name] = verdict
            print(f"{name}: {verdict}")
            if verdict["healthy"]:
                continue
            command = spec.get("restart_command")
            if not command:
                failures.append(f"{name} is {verdict['state']} and has no restart_command")
                continue
            done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
            verdict["restarted"] = done.returncode == 0
            print(f"{name}: restart exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            if done.returncode != 0:
                failures.append(f"{name}: restart_command exited {done.returncode}")
        if failures:
            raise RuntimeError("; ".join(failures))
        return report

    check_and_restart()
