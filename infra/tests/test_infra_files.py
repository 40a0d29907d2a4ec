"""The deployment files of infra/ checked by validators from our registries (the stack itself is not started: our
CI machines have no Docker engine and no Kubernetes):

- docker-compose.yml against the Compose Specification's JSON schema (as vendored by check-jsonschema);
- the Kubernetes manifests of the core kinds against the Kubernetes API schemas (kubernetes-validate, strict: an
  unknown field fails), and the SparkApplication / ScheduledSparkApplication ones against the Spark Operator's own
  CRD schemas, taken from its Go module (github.com/kubeflow/spark-operator/v2 v2.3.0, from the Go module proxy,
  checked against a pinned SHA-256), with unknown fields refused as the API server's pruning would drop them;
- the Grafana dashboard and the Prometheus alert rules: every metric their PromQL reads is one the jobs or the
  feature server export (names taken from the Java sources, as the Prometheus client exposes them), and every
  scrape target is a service of the compose file.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

INFRA = Path(__file__).resolve().parent.parent
REPO = INFRA.parent
COMPOSE = INFRA / "compose" / "docker-compose.yml"
K8S = INFRA / "k8s"
KUBERNETES_VERSION = "1.34"

SPARK_OPERATOR = "github.com/kubeflow/spark-operator/v2"
SPARK_OPERATOR_VERSION = "v2.3.0"
SPARK_OPERATOR_ZIP_SHA256 = "13d5fdaa278e372798205582e22fd8083dbdc817f1b1e8e7d36fa84a7d9703b3"


def _manifests() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_the_compose_file_follows_the_compose_specification():
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(COMPOSE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_file_has_every_part_of_the_platform_and_mounts_what_exists():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    for name in ["kafka", "minio", "redis", "spark-master", "spark-worker", "bronze-ingest", "online-features",
                 "feature-server", "airflow", "prometheus", "grafana"]:
        assert name in services, name
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller", "KRaft, one node"
    assert not [n for n in services if "zookeeper" in n], "no ZooKeeper: Kafka runs in KRaft mode"
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).resolve().exists(), f"{name} mounts {source}, which does not exist"
        build = service.get("build")
        if build:
            assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve().is_file(), name


def test_the_core_kubernetes_manifests_follow_the_kubernetes_schemas():
    core = [(f, d) for f, d in _manifests() if not d["apiVersion"].startswith("sparkoperator.k8s.io/")]
    assert {d["kind"] for _, d in core} >= {"Namespace", "ConfigMap", "Secret", "ServiceAccount", "Role",
                                            "RoleBinding", "Deployment", "Service"}
    for name, doc in core:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {e.message} at {list(e.path)}")


def _operator_zip(cache: Path) -> zipfile.ZipFile:
    path = cache / f"spark-operator-{SPARK_OPERATOR_VERSION}.zip"
    if not path.exists():
        proxy = os.environ.get("GOPROXY", "https://proxy.golang.org").split(",")[0].rstrip("/")
        if proxy in ("direct", "off"):
            proxy = "https://proxy.golang.org"
        url = f"{proxy}/{SPARK_OPERATOR}/@v/{SPARK_OPERATOR_VERSION}.zip"
        with urllib.request.urlopen(url, timeout=120) as r:
            data = r.read()
        cache.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert digest == SPARK_OPERATOR_ZIP_SHA256, f"{path}: SHA-256 {digest}, not the pinned one"
    return zipfile.ZipFile(io.BytesIO(data))


def _closed(schema):
    """The schema with unknown fields refused where the API server would prune them."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    return schema


@pytest.fixture(scope="module")
def operator_schemas() -> dict[str, dict]:
    archive = _operator_zip(REPO / "target" / "infra-validators")
    schemas = {}
    prefix = f"{SPARK_OPERATOR}@{SPARK_OPERATOR_VERSION}/config/crd/bases/"
    for kind, file in [("SparkApplication", "sparkoperator.k8s.io_sparkapplications.yaml"),
                       ("ScheduledSparkApplication", "sparkoperator.k8s.io_scheduledsparkapplications.yaml")]:
        crd = yaml.safe_load(archive.read(prefix + file))
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta2"]
        schemas[kind] = _closed(version["schema"]["openAPIV3Schema"])
    return schemas


def test_the_spark_operator_manifests_follow_its_crd_schemas(operator_schemas):
    apps = [(f, d) for f, d in _manifests() if d["apiVersion"].startswith("sparkoperator.k8s.io/")]
    kinds = {}
    for name, doc in apps:
        assert doc["apiVersion"] == "sparkoperator.k8s.io/v1beta2", name
        errors = sorted(jsonschema.Draft7Validator(operator_schemas[doc["kind"]]).iter_errors(doc), key=str)
        assert not errors, f"{name}: {doc['metadata']['name']}: " + "; ".join(
            f"{e.message} at {list(e.absolute_path)}" for e in errors[:5])
        kinds.setdefault(doc["kind"], []).append(doc)
        spec = doc["spec"].get("template", doc["spec"])
        assert spec["mainApplicationFile"] == "local:///opt/recsys/recsys-app.jar"
        assert spec["sparkVersion"] == "4.1.0"
        assert spec["driver"]["serviceAccount"] == "recsys-spark"
    assert {d["spec"]["mainClass"] for d in kinds["SparkApplication"]} == {
        "io.recsys.streaming.bronze.BronzeIngestJob", "io.recsys.streaming.online.OnlineFeaturesJob"}
    assert len(kinds["ScheduledSparkApplication"]) == 5


def test_a_typo_in_a_spark_application_is_caught(operator_schemas):
    """The check above can fail: a misspelt field is refused."""
    (doc,) = [d for f, d in _manifests() if d["kind"] == "SparkApplication"][:1]
    broken = copy.deepcopy(doc)
    broken["spec"]["driver"]["memroy"] = broken["spec"]["driver"].pop("memory")
    assert list(jsonschema.Draft7Validator(operator_schemas["SparkApplication"]).iter_errors(broken))


def test_the_classes_the_manifests_run_exist():
    for name, doc in _manifests():
        spec = doc.get("spec", {})
        spec = spec.get("template", spec)
        cls = spec.get("mainClass") if isinstance(spec, dict) else None
        if cls:
            src = next(REPO.glob(f"*/src/main/java/{cls.replace('.', '/')}.java"), None)
            assert src, f"{name}: {cls} is not a class of this repository"


def _exported_metrics() -> set[str]:
    """Names the Prometheus client exposes for the metrics registered in the Java sources."""
    names = set()
    pattern = re.compile(r'(Counter|Gauge|Histogram|Summary)\.builder\(\)\s*\.name\("([a-z0-9_]+)"\)')
    for src in REPO.glob("*/src/main/java/**/*.java"):
        for kind, name in pattern.findall(src.read_text()):
            if kind == "Counter":
                names.add(name.removesuffix("_total") + "_total")
            elif kind in ("Histogram", "Summary"):
                names |= {name, name + "_bucket", name + "_count", name + "_sum"}
            else:
                names.add(name)
    return names


def _metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(recsys_[a-z0-9_]+)\b", expr))


def test_the_dashboard_and_the_alerts_read_metrics_the_code_exports():
    exported = _exported_metrics()
    assert "recsys_stream_offsets_behind_latest" in exported and "recsys_serving_lookup_seconds_bucket" in exported
    dashboard = json.loads((INFRA / "compose" / "grafana" / "dashboards" / "recsys.json").read_text())
    read = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used = _metric_names(target["expr"])
            assert used <= exported, f"panel {panel['title']!r} reads {sorted(used - exported)}, not exported"
            read |= used
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ["ingest rate", "lag", "batch duration", "freshness", "quarantine", "lookup latency"]:
        assert topic in titles, topic
    rules = yaml.safe_load((INFRA / "compose" / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            used = _metric_names(rule["expr"])
            assert used <= exported, f"alert {rule['alert']} reads {sorted(used - exported)}, not exported"
            assert rule["labels"]["severity"] and rule["annotations"]["summary"]


def test_prometheus_scrapes_the_services_of_the_compose_file():
    compose = yaml.safe_load(COMPOSE.read_text())
    config = yaml.safe_load((INFRA / "compose" / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    for job in config["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            host, port = target.split(":")
            assert host in compose["services"], target
            published = [p.split(":")[-1] for p in compose["services"][host].get("ports", [])]
            assert port in published or port in " ".join(compose["services"][host].get("command", [])), target
