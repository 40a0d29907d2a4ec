"""Feast definitions of recsys, built from feature-defs/features.yaml, the one source of truth.

Nothing here names a feature by hand: every entity and feature view comes from the YAML file that the Java
jobs (io.recsys.features.FeatureDefinitions) compile into Spark aggregations, so ``feast apply`` registers
exactly the features that Spark writes to Redis.

Each view's batch source is its offline log in the lake, the Delta table ``features/<view>`` that the
online-features job appends to (columns: the join key, the features, ``event_timestamp``,
``created_timestamp``). The lake is ``$RECSYS_LAKE`` (default: the demo's lake, ``demo-data/lake`` at the
repository root).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import yaml
from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.data_format import DeltaFormat
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String, UnixTimestamp

DEFINITIONS = Path(os.environ.get("RECSYS_FEATURES", Path(__file__).resolve().parent.parent / "features.yaml"))

# Feast value types, by the dtype names features.yaml uses (the same names as feast.types.Value's fields).
_FEAST_TYPES = {
    "INT64": Int64,
    "INT32": Int32,
    "DOUBLE": Float64,
    "FLOAT": Float32,
    "STRING": String,
    "BOOL": Bool,
    "UNIX_TIMESTAMP": UnixTimestamp,
    "STRING_LIST": Array(String),
    "INT64_LIST": Array(Int64),
    "DOUBLE_LIST": Array(Float64),
}
_ENTITY_TYPES = {"STRING": ValueType.STRING, "INT64": ValueType.INT64, "INT32": ValueType.INT32}
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """A duration as features.yaml writes it (30s, 5m, 1h, 2d)."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"{DEFINITIONS}: '{text}' is not a duration such as 30s, 5m, 1h or 2d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def load_definitions(path: Path = DEFINITIONS) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def lake_root() -> str:
    default = Path(__file__).resolve().parents[2] / "demo-data" / "lake"
    return os.environ.get("RECSYS_LAKE", str(default)).rstrip("/")


def build(definitions: dict | None = None) -> tuple[dict[str, Entity], dict[str, FeatureView]]:
    """Feast entities and feature views for every entry of the definitions file."""
    definitions = definitions or load_definitions()
    entities = {
        name: Entity(
            name=name,
            join_keys=[spec["join_key"]],
            value_type=_ENTITY_TYPES[spec.get("dtype", "STRING")],
            description=spec.get("description", ""),
        )
        for name, spec in definitions["entities"].items()
    }
    views = {}
    for name, spec in definitions["views"].items():
        entity = entities[spec["entity"]]
        source = FileSource(
            name=f"{name}_offline_log",
            path=f"{lake_root()}/features/{name}",
            file_format=DeltaFormat(),
            timestamp_field="event_timestamp",
            created_timestamp_column="created_timestamp",
        )
        views[name] = FeatureView(
            name=name,
            entities=[entity],
            ttl=parse_duration(spec["ttl"]),
            schema=[
                Field(name=feature, dtype=_FEAST_TYPES[fspec["dtype"]])
                for feature, fspec in spec["features"].items()
            ],
            source=source,
            online=True,
            tags={
                "window": str(spec.get("window", "")),
                "source": spec["source"],
                "schedule": spec.get("schedule", "streaming"),
            },
        )
    return entities, views


_entities, _views = build()
# Module-level names are what `feast apply` registers.
globals().update({f"entity_{name}": e for name, e in _entities.items()})
globals().update({f"view_{name}": v for name, v in _views.items()})
