"""Draws docs/benchmark/capacity.png from capacity.json: throughput and CPU per request of each
path against wrk's connections, Flowgate's API beside the floor and the bare handler, all on one
core and measured in the same run."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "bare": "bare axum handler",
    "floor": "floor (handler + gRPC start)",
    "async-start": "async start",
    "sync-start": "sync start",
    "result": "result read",
    "describe": "describe",
    "auth-start": "async start, API key",
}


def main(capacity_path: str, png_path: str) -> None:
    with open(capacity_path, encoding="utf-8") as f:
        report = json.load(f)
    closed = [p for p in report["phases"] if p["load"]["kind"] == "closed"]
    fig, (thr, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    connections = sorted({p["load"]["connections"] for p in closed})
    for path, label in LABELS.items():
        rows = sorted(
            (p for p in closed if p["path"] == path), key=lambda p: p["load"]["connections"]
        )
        if not rows:
            continue
        style = "--" if path in ("bare", "floor") else "-"
        conc = [p["load"]["connections"] for p in rows]
        thr.plot(
            conc, [p["median"]["throughput"] for p in rows], style, marker="o", label=label
        )
        cpu.plot(
            conc,
            [p["median"]["subject_cpu_us"] for p in rows],
            style,
            marker="o",
            label=label,
        )
    for ax in (thr, cpu):
        ax.set_xscale("log", base=2)
        ax.set_xticks(connections, labels=[str(c) for c in connections])
        ax.set_xlabel("wrk connections")
        ax.grid(True, alpha=0.3)
    thr.set_ylabel("requests per second (one core)")
    thr.set_yscale("log")
    thr.set_title("Throughput")
    cpu.set_ylabel("CPU µs per request (measured process)")
    cpu.set_yscale("log")
    cpu.set_title("CPU per request")
    thr.legend(fontsize=7)
    fig.suptitle(
        f"One core of the API against the null frontend — {report['machine']} — {report['date']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
