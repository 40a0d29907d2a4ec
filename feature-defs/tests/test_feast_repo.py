"""The Feast repository accepts the definitions file, and Feast's own Redis writer pins our Java codec.

test_golden_vectors writes rows through Feast's RedisOnlineStore (the path `feast materialize` and
`write_to_online_store` take) into a real redis-server and records every hash byte for byte. The result must
equal src/test/resources/io/recsys/feast/golden-v3.json, which FeastGoldenVectorsTest (Java) encodes with our
codec and compares too. Set RECSYS_REGENERATE_GOLDEN=1 to rewrite the file after a deliberate change.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import redis
import yaml
from feast import FeatureStore

from conftest import MODULE

GOLDEN = MODULE / "src" / "test" / "resources" / "io" / "recsys" / "feast" / "golden-v3.json"
DEFINITIONS = yaml.safe_load((MODULE / "features.yaml").read_text(encoding="utf-8"))

# Entity values that exercise the key encoding: ASCII, digits only, multi-byte UTF-8, a long one.
ENTITY_VALUES = ["u-000042", "7", "ユーザー-é", "x" * 300]


def sample_value(dtype: str, i: int):
    """A deterministic value of a features.yaml dtype; i varies it across rows and reaches edge cases."""
    if dtype == "INT64":
        return [0, 1, 2**40 + 3, 17][i % 4]
    if dtype == "INT32":
        return [0, 5, 2**30, 9][i % 4]
    if dtype == "DOUBLE":
        return [0.0, 0.25, 1.0 / 3.0, None][i % 4]
    if dtype == "STRING":
        return ["", "electronics", "Küche", "a b"][i % 4]
    if dtype == "STRING_LIST":
        return [["i-1", "i-2", "i-3"], ["solo"], ["é", "ü"], ["z"] * 10][i % 4]
    if dtype == "DOUBLE_LIST":
        return [[0.5, 0.25], [1.0 / 3.0], [], [-2.0, 0.0, 7.125]][i % 4]
    if dtype == "BOOL":
        return [True, False][i % 2]
    raise AssertionError(f"no sample for dtype {dtype}")


def golden_writes() -> list[dict]:
    writes = []
    for v, (view, spec) in enumerate(DEFINITIONS["views"].items()):
        join_key = DEFINITIONS["entities"][spec["entity"]]["join_key"]
        for e, entity_value in enumerate(ENTITY_VALUES):
            i = v + e
            micros = (v * 7 + e * 13) % 1_000_000
            ts = datetime(2026, 1, 2, 3, 4, 5 + e, micros, tzinfo=timezone.utc)
            writes.append({
                "view": view,
                "join_key": join_key,
                "entity_value": entity_value,
                "event_timestamp": ts.isoformat(),
                "features": {name: {"dtype": f["dtype"], "value": sample_value(f["dtype"], i)}
                             for name, f in spec["features"].items()},
            })
    return writes


def write_with_feast(store: FeatureStore, writes: list[dict]) -> None:
    for w in writes:
        row = {w["join_key"]: [w["entity_value"]],
               "event_timestamp": [pd.Timestamp(w["event_timestamp"])],
               "created_timestamp": [pd.Timestamp(w["event_timestamp"])]}
        for name, f in w["features"].items():
            row[name] = [f["value"]]
        store.write_to_online_store(w["view"], pd.DataFrame(row))


def dump_hashes(client: redis.Redis) -> dict:
    hashes = {}
    for key in sorted(client.keys(b"*")):
        fields = client.hgetall(key)
        hashes[key.hex()] = {f.hex(): v.hex() for f, v in sorted(fields.items())}
    return hashes


def test_feast_apply_registers_every_view_and_feature(feast_repo):
    store = FeatureStore(repo_path=str(feast_repo))
    registered = {fv.name: fv for fv in store.list_feature_views()}
    assert set(registered) == set(DEFINITIONS["views"])
    for name, spec in DEFINITIONS["views"].items():
        fv = registered[name]
        assert [f.name for f in fv.features] == list(spec["features"]), name
        join_key = DEFINITIONS["entities"][spec["entity"]]["join_key"]
        assert fv.join_keys == [join_key], name
        assert fv.ttl.total_seconds() > 0, name
    assert {e.name for e in store.list_entities()} >= set(DEFINITIONS["entities"])


def test_golden_vectors_are_what_feast_writes(feast_repo, redis_address):
    host, port = redis_address.split(":")
    client = redis.Redis(host=host, port=int(port))
    client.flushall()
    store = FeatureStore(repo_path=str(feast_repo))
    writes = golden_writes()
    write_with_feast(store, writes)
    produced = {
        "produced_by": "feast write_to_online_store (RedisOnlineStore), tests/test_feast_repo.py",
        "project": store.project,
        "entity_key_serialization_version": 3,
        "writes": writes,
        "hashes": dump_hashes(client),
    }
    assert produced["hashes"], "Feast wrote nothing"
    if os.environ.get("RECSYS_REGENERATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(produced, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert golden["writes"] == writes, "the test's inputs changed: regenerate with RECSYS_REGENERATE_GOLDEN=1"
    assert golden["hashes"] == produced["hashes"], (
        "Feast now writes other bytes than the golden vectors the Java codec is pinned to")


def test_feast_reads_back_the_values(feast_repo, redis_address):
    store = FeatureStore(repo_path=str(feast_repo))
    writes = [w for w in golden_writes() if w["view"] == "user_activity_1h"]
    write_with_feast(store, writes)
    rows = [{"user_id": w["entity_value"]} for w in writes]
    got = store.get_online_features(features=["user_activity_1h:views", "user_activity_1h:purchases"],
                                    entity_rows=rows).to_dict()
    assert got["views"] == [w["features"]["views"]["value"] for w in writes]
    assert got["purchases"] == [w["features"]["purchases"]["value"] for w in writes]
