"""The watchdog's judgement of one streaming job from its Prometheus text endpoint (no Airflow needed here)."""

from __future__ import annotations

import re
import urllib.request

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format -> {metric name: value}, the largest value where a metric has several labels."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out[m.group(1)] = max(value, out.get(m.group(1), value))
    return out


def assess(name: str, spec: dict, now: float) -> dict:
    """healthy / dead (endpoint does not answer) / stalled (no progress for max_silence_seconds) / lagging."""
    url = spec.get("metrics_url")
    if not url:
        raise ValueError(f"recsys_streaming_jobs.{name} has no metrics_url")
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            metrics = parse_metrics(response.read().decode("utf-8", "replace"))
    except OSError as e:
        return {"healthy": False, "state": "dead", "reason": f"{url} does not answer: {e}"}
    last = metrics.get("recsys_stream_last_progress_timestamp_seconds")
    behind = metrics.get("recsys_stream_offsets_behind_latest")
    silence = None if last is None else now - last
    verdict = {"silence_seconds": silence, "offsets_behind": behind}
    if silence is None or silence > float(spec.get("max_silence_seconds", 300)):
        return {**verdict, "healthy": False, "state": "stalled",
                "reason": "no micro-batch yet" if silence is None else f"no progress for {silence:.0f} s"}
    max_behind = spec.get("max_offsets_behind")
    if max_behind is not None and behind is not None and behind > float(max_behind):
        # lagging but alive: report, do not restart (a restart would only lose time)
        return {**verdict, "healthy": True, "state": "lagging", "reason": f"{behind:.0f} offsets behind"}
    return {**verdict, "healthy": True, "state": "healthy"}
