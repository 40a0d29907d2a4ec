"""What the notebooks share: a Spark session with the jar's Delta and S3A, the lake check of their first cell, the
tables of a lake, metrics.json of the ALS versions, and Feast's SDK on the online store.

The notebooks run in the project's .venv (pyspark 4.1.0 and delta-spark 4.3.1: the Spark and Delta versions of the
application jar, whose classes the session loads, so the notebooks read exactly what the jobs wrote).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FEATURE_DEFS = REPO / "feature-defs"

# The Delta tables a lake holds (ARCHITECTURE.md), by name.
TABLES = {
    "bronze.events": "bronze/events",
    "bronze.quarantine": "bronze/quarantine",
    "silver.events": "silver/events",
    "gold.user_features": "gold/user_features",
    "gold.item_features": "gold/item_features",
    "gold.recommendations": "gold/recommendations",
    "gold.popular_items": "gold/popular_items",
}


def app_jar(explicit: str | None = None) -> str:
    """The application jar (it carries Delta and S3A at the versions of the jobs): the given path, RECSYS_APP_JAR,
    or the one ./run build leaves in infra/app/target."""
    path = explicit or os.environ.get("RECSYS_APP_JAR")
    if not path:
        found = sorted(glob.glob(str(REPO / "infra" / "app" / "target" / "recsys-app-*.jar")))
        found = [f for f in found if not f.endswith(("-sources.jar", "-tests.jar"))]
        if not found:
            raise FileNotFoundError(f"no application jar in {REPO / 'infra' / 'app' / 'target'}: run ./run build "
                                    "first, or set APP_JAR (or RECSYS_APP_JAR) to the jar")
        path = found[-1]
    if not Path(path).is_file():
        raise FileNotFoundError(f"the application jar {path} does not exist: run ./run build, or fix APP_JAR")
    return path


def _local_path(lake: str) -> Path | None:
    if lake.startswith("file:"):
        return Path(lake[len("file:"):].replace("///", "/", 1) if lake.startswith("file:///") else lake[5:])
    if "://" in lake:
        return None
    return Path(lake)


def check_local_lake(lake: str) -> None:
    """Stops with the path looked for when a local lake (a folder or file: URI) has no bronze.events table. An
    s3a:// lake is checked by check_lake once Spark runs (it needs Spark's S3A client)."""
    local = _local_path(lake)
    if local is None:
        return
    log = local / "bronze" / "events" / "_delta_log"
    if not log.is_dir():
        raise FileNotFoundError(f"no lake at {local.resolve()}: looked for the Delta table bronze.events in {log}. "
                                "Set LAKE in the parameters cell to the --lake of your jobs "
                                "(./run demo prints it), or build one with ./run demo.")


def spark_session(lake: str, master: str = "local[2]", jar: str | None = None, s3_endpoint: str | None = None,
                  app_name: str = "recsys-notebook"):
    """A Spark session that reads the lake's Delta tables: local mode by default, or any master."""
    check_local_lake(lake)
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (SparkSession.builder.appName(app_name).master(master)
               .config("spark.jars", app_jar(jar))
               .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
               .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false"))
    if master.startswith("local"):
        # small data: few shuffle partitions, and Delta's log replay in 2 tasks instead of 50
        builder = (builder.config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false")
                   .config("spark.databricks.delta.snapshotPartitions", "2")
                   .config("spark.driver.memory", os.environ.get("RECSYS_NOTEBOOK_DRIVER_MEMORY", "2g")))
    java_options = os.environ.get("RECSYS_NOTEBOOK_JAVA_OPTIONS")  # e.g. -XX:TieredStopAtLevel=1 on small lakes
    if java_options:
        builder = builder.config("spark.driver.extraJavaOptions", java_options)
    if s3_endpoint:
        builder = (builder.config("spark.hadoop.fs.s3a.endpoint", s3_endpoint)
                   .config("spark.hadoop.fs.s3a.path.style.access", "true")
                   .config("spark.hadoop.fs.s3a.connection.ssl.enabled", str(s3_endpoint.startswith("https")).lower()))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def check_lake(spark, lake: str) -> None:
    """Stops with the path looked for when the lake (any file system Spark reaches) has no bronze.events table."""
    check_local_lake(lake)
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(lake.rstrip("/") + "/bronze/events/_delta_log")
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        raise FileNotFoundError(f"no lake at {lake}: looked for the Delta table bronze.events in {path.toString()}")


def table_path(lake: str, name: str) -> str:
    return lake.rstrip("/") + "/" + TABLES.get(name, name.replace(".", "/"))


def exists(spark, lake: str, name: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, table_path(lake, name))


def read(spark, lake: str, name: str):
    """A table of the lake by name (bronze.events, features.user_activity_1h, ...)."""
    return spark.read.format("delta").load(table_path(lake, name))


def overview(spark, lake: str, names: list[str] | None = None, count_rows: bool = False):
    """Files, size, Delta version and last operation (and with count_rows, rows) of tables of the lake (default:
    bronze, silver and gold), as a pandas frame; absent tables are listed as such."""
    import pandas as pd
    from delta.tables import DeltaTable

    rows = []
    for name in names or list(TABLES):
        if not exists(spark, lake, name):
            rows.append({"table": name, "version": None, "last_operation": "(absent)"})
            continue
        table = DeltaTable.forPath(spark, table_path(lake, name))
        last = table.history(1).collect()[0]
        detail = table.detail().collect()[0]
        row = {"table": name, "version": last["version"], "last_operation": last["operation"],
               "when": last["timestamp"], "files": detail["numFiles"], "MB": round(detail["sizeInBytes"] / 1e6, 2),
               "partitioned_by": ", ".join(detail["partitionColumns"])}
        if count_rows:
            row["rows"] = table.toDF().count()
        rows.append(row)
    return pd.DataFrame(rows)


def feature_log_views(spark, lake: str) -> list[str]:
    """The views that have an offline log features.<view> in the lake."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(lake.rstrip("/") + "/features")
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return []
    return sorted(s.getPath().getName() for s in fs.listStatus(path)
                  if s.isDirectory() and not s.getPath().getName().startswith(("_", ".")))


def als_versions(spark, lake: str):
    """metrics.json of every ALS version under models/als, oldest first, as a list of dicts (promoted or not)."""
    pattern = lake.rstrip("/") + "/models/als/*/metrics.json"
    try:
        texts = spark.read.text(pattern, wholetext=True).collect()
    except Exception as e:  # no model yet: Spark says the path does not exist
        if "PATH_NOT_FOUND" in str(e) or "does not exist" in str(e):
            return []
        raise
    return sorted((json.loads(r.value) for r in texts), key=lambda m: m["version"])


def promoted_version(spark, lake: str) -> str | None:
    try:
        text = spark.read.text(lake.rstrip("/") + "/models/als/PROMOTED.json", wholetext=True).collect()
    except Exception as e:
        if "PATH_NOT_FOUND" in str(e) or "does not exist" in str(e):
            return None
        raise
    return json.loads(text[0].value)["version"] if text else None


def feast_store(redis: str, lake: str, features_file: Path | None = None):
    """Feast's own SDK on the online store at redis (host:port). The repository feature-defs/feast_repo is copied to
    target/notebook-feast/<digest of its sources> and `feast apply` registers it there once (the checkout stays
    untouched); the online store's address comes from the environment, so one registry serves any Redis. The
    repository's offline sources point at the lake's features.<view> tables."""
    import hashlib

    features_file = (features_file or FEATURE_DEFS / "features.yaml").resolve()
    sources = [features_file, *sorted((FEATURE_DEFS / "feast_repo").glob("*.py")),
               FEATURE_DEFS / "feast_repo" / "feature_store.yaml"]
    lake = lake if "://" in lake else str(Path(lake.removeprefix("file:")).resolve())
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources) + lake.encode()).hexdigest()[:16]
    root = REPO / "target" / "notebook-feast" / digest
    env = {"RECSYS_REDIS": redis_address(redis), "RECSYS_LAKE": lake, "RECSYS_FEATURES": str(features_file)}
    if not (root / "feast_repo" / "data" / "registry.db").exists():
        staging = Path(tempfile.mkdtemp(prefix="feast-", dir=root.parent if root.parent.exists() else None))
        shutil.copytree(FEATURE_DEFS / "feast_repo", staging / "feast_repo",
                        ignore=shutil.ignore_patterns("data", "__pycache__"))
        applied = subprocess.run([str(Path(sys.executable).parent / "feast"), "apply"], cwd=staging / "feast_repo",
                                 env=dict(os.environ, **env), capture_output=True, text=True, timeout=300)
        if applied.returncode != 0:
            raise RuntimeError(f"feast apply failed:\n{applied.stdout}\n{applied.stderr}")
        root.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(root)  # atomic: a notebook running beside this one sees all of it or none
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # the other one won
    os.environ.update(env)
    from feast import FeatureStore

    return FeatureStore(repo_path=str(root / "feast_repo"))


def online_store_answers(redis: str) -> bool:
    """Whether a Redis server answers at host:port (the notebooks skip their online part, saying so, if not)."""
    import redis as redis_client

    host, _, port = redis_address(redis).rpartition(":")
    try:
        return bool(redis_client.Redis(host=host or "127.0.0.1", port=int(port), socket_timeout=2).ping())
    except (redis_client.RedisError, OSError, ValueError):
        return False


def redis_address(url: str) -> str:
    """host:port from redis://host:port[/db] or host:port."""
    if url.startswith(("redis://", "rediss://")):
        url = url.split("://", 1)[1]
    return url.split("/", 1)[0]
