"""Reads online features through Feast's own Python SDK and prints them as JSON.

Used by the Java test OnlineFeaturesIT to check that Feast's `FeatureStore.get_online_features` returns the
values our Java job wrote to Redis; also handy by hand:

    .venv/bin/python feature-defs/tests/feast_online_read.py --redis 127.0.0.1:6379 --request req.json

req.json: {"features": ["view:feature", ...], "entity_rows": [{"user_id": "u1"}, ...]}. The repository is
copied to a temporary folder and `feast apply` runs there (its registry points at --redis), so the checkout is
left untouched. Output: {"view__feature": [value per entity row], ...} with full feature names.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MODULE = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True, help="host:port of the online store")
    parser.add_argument("--request", required=True, type=Path, help="JSON file with features and entity_rows")
    parser.add_argument("--features-file", type=Path, default=MODULE / "features.yaml")
    args = parser.parse_args()
    request = json.loads(args.request.read_text(encoding="utf-8"))

    with tempfile.TemporaryDirectory(prefix="recsys-feast-") as tmp:
        root = Path(tmp)
        shutil.copytree(MODULE / "feast_repo", root / "feast_repo",
                        ignore=shutil.ignore_patterns("data", "__pycache__"))
        env = dict(os.environ, RECSYS_REDIS=args.redis, RECSYS_LAKE=str(root / "lake"),
                   RECSYS_FEATURES=str(args.features_file.resolve()))
        feast = Path(sys.executable).parent / "feast"
        applied = subprocess.run([str(feast), "apply"], cwd=root / "feast_repo", env=env,
                                 capture_output=True, text=True, timeout=300)
        if applied.returncode != 0:
            print(f"feast apply failed:\n{applied.stdout}\n{applied.stderr}", file=sys.stderr)
            return 1
        os.environ.update({k: env[k] for k in ("RECSYS_REDIS", "RECSYS_LAKE", "RECSYS_FEATURES")})

        from feast import FeatureStore  # after the environment is set: the repository reads it

        store = FeatureStore(repo_path=str(root / "feast_repo"))
        result = store.get_online_features(features=request["features"], entity_rows=request["entity_rows"],
                                           full_feature_names=True).to_dict()
    json.dump(result, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
