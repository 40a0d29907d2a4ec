"""Small reads of the lake from a task (JSON files the jobs write), for local paths, file:/ and s3a:// lakes.

Imported inside tasks only, so parsing a DAG file never touches the lake.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlparse


def lake_root() -> str:
    from airflow.sdk import Variable

    return Variable.get("recsys_lake").rstrip("/")


def read_json(relative: str) -> dict:
    """A JSON file under the lake root; a clear error names the path when it is missing."""
    root = lake_root()
    url = urlparse(root)
    if url.scheme in ("", "file"):
        path = os.path.join(url.path if url.scheme else root, relative)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} does not exist: has the job that writes it run for this date?")
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    if url.scheme in ("s3", "s3a"):
        import boto3  # the s3 extra of the requirements; only for s3a:// lakes
        from airflow.sdk import Variable

        endpoint = Variable.get("recsys_s3_endpoint", default=None) or None
        key = f"{url.path.lstrip('/')}/{relative}"
        body = boto3.client("s3", endpoint_url=endpoint).get_object(Bucket=url.netloc, Key=key)["Body"].read()
        return json.loads(body)
    raise ValueError(f"recsys_lake {root}: use a path, file:/... or s3a://bucket/prefix")
