"""Runs the notebooks headless with papermill on a lake and an online store, and writes the executed copies.

    ./run notebooks --lake demo-data/lake --redis 127.0.0.1:6379 [--out target/notebooks] [01 02 ...]
    ./run notebooks --strip        removes outputs and execution counts from the notebooks in notebooks/ (before
                                   a commit, after working on them in JupyterLab)

Each notebook gets the parameters of its `parameters` cell (LAKE, REDIS, SPARK_MASTER, APP_JAR, S3_ENDPOINT) and
runs in this Python (the project's .venv). The executed notebooks, with their plots, land in --out; the committed
ones stay without outputs. Exit status 1 when a notebook fails, with the cell and error; the summary of each run
(seconds, plots, the JSON its `summary` cell printed) goes to stdout as one JSON line per notebook.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def notebooks(selected: list[str]) -> list[Path]:
    every = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if not selected:
        return every
    chosen = [nb for nb in every if any(nb.name.startswith(s) or nb.stem == s for s in selected)]
    missing = [s for s in selected if not any(nb.name.startswith(s) or nb.stem == s for nb in every)]
    if missing:
        raise SystemExit(f"no notebook named {', '.join(missing)} in {HERE} (have: {', '.join(n.stem for n in every)})")
    return chosen


def outputs(path: Path) -> dict:
    """Plots and the summary cell's JSON of an executed notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    plots, summary = 0, None
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        plots += sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        if "summary" in cell.get("metadata", {}).get("tags", []):
            text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("name") == "stdout")
            summary = json.loads(text) if text.strip() else None
    return {"plots": plots, "summary": summary}


def strip(path: Path) -> bool:
    """Removes the outputs, execution counts and papermill metadata of a notebook; True if it had any."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count, changed = [], None, True
        for key in ("papermill", "execution"):
            changed |= cell.metadata.pop(key, None) is not None
    changed |= nb.metadata.pop("papermill", None) is not None
    if changed:
        nbformat.write(nb, path)
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", help="the lake root the jobs wrote (folder, file:/..., s3a://...)")
    parser.add_argument("--redis", default="127.0.0.1:6379", help="the online store, host:port")
    parser.add_argument("--master", default="local[2]", help="Spark master of the notebooks' sessions")
    parser.add_argument("--app-jar", help="the application jar (default: infra/app/target/recsys-app-*.jar)")
    parser.add_argument("--s3-endpoint", help="S3 endpoint of an s3a:// lake (MinIO, S3Proxy)")
    parser.add_argument("--out", default=str(HERE.parent / "target" / "notebooks"),
                        help="folder for the executed notebooks (default: target/notebooks)")
    parser.add_argument("--parallel", type=int, default=1, help="notebooks run at once (default 1)")
    parser.add_argument("--strip", action="store_true", help="strip the outputs of the notebooks in notebooks/")
    parser.add_argument("names", nargs="*", help="notebooks to run (01, 02_features, ...; default: all)")
    args = parser.parse_args()
    if args.strip:
        for nb in notebooks(args.names):
            print(f"{nb.name}: {'stripped' if strip(nb) else 'no outputs'}")
        return 0
    if not args.lake:
        parser.error("--lake is required (the --lake of the jobs; ./run demo builds one in demo-data/lake)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lake = args.lake if "://" in args.lake or args.lake.startswith("file:") else str(Path(args.lake).resolve())
    params = {"LAKE": lake, "REDIS": args.redis, "SPARK_MASTER": args.master, "APP_JAR": args.app_jar,
              "S3_ENDPOINT": args.s3_endpoint}
    chosen = notebooks(args.names)
    if args.parallel > 1:  # each notebook has its own kernel and Spark driver: small lakes leave the cores idle
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(args.parallel, len(chosen))) as pool:
            results = list(pool.map(execute, chosen, [out] * len(chosen), [params] * len(chosen)))
    else:
        results = [execute(nb, out, params) for nb in chosen]
    for r in results:
        print(json.dumps(r), flush=True)
    return 0 if all(r["ok"] for r in results) else 1


KERNEL_DIED = "Kernel died before replying to kernel_info"


def with_kernel_retry(run, name: str):
    """Returns run(), called once more if its kernel died while starting: before it ran a cell, so nothing runs
    twice. Seen once, with three kernels starting at the same time on 2 cores. A second death is raised."""
    try:
        return run()
    except RuntimeError as e:
        if KERNEL_DIED not in str(e):
            raise
        print(f"{name}: the kernel died while starting ({e}); starting it again", file=sys.stderr, flush=True)
        return run()


def execute(nb: Path, out: Path, params: dict) -> dict:
    """Runs one notebook with papermill; what it did, as a dict."""
    import papermill as pm

    target = out / nb.name
    t0 = time.time()
    try:
        with_kernel_retry(lambda: pm.execute_notebook(str(nb), str(target), parameters=params, cwd=str(HERE),
                                                      kernel_name="python3", progress_bar=False,
                                                      request_save_on_cell_execute=False), nb.name)
    except pm.PapermillExecutionError as e:
        return {"notebook": nb.name, "ok": False, "cell": e.exec_count, "error": e.ename, "message": str(e.evalue),
                "output": str(target)}
    return {"notebook": nb.name, "ok": True, "seconds": round(time.time() - t0, 1), "output": str(target),
            **outputs(target)}


if __name__ == "__main__":
    sys.exit(main())
