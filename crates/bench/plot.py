"""Draws docs/benchmark/plot.png from results.json: async-start throughput and latency against
concurrency, Flowgate beside Temporal's HTTP API and gRPC (SDK) measured in the same run."""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "flowgate": "Flowgate",
    "temporal-http": "Temporal HTTP API",
    "temporal-grpc": "Temporal gRPC (SDK)",
}


def main(results_path: str, png_path: str) -> None:
    with open(results_path, encoding="utf-8") as f:
        results = json.load(f)
    starts = [s for s in results["scenarios"] if s["scenario"] == "async-start"]
    fig, (thr, lat) = plt.subplots(1, 2, figsize=(11, 4.2))
    for target, label in LABELS.items():
        rows = sorted(
            (s for s in starts if s["target"] == target), key=lambda s: s["concurrency"]
        )
        if not rows:
            continue
        conc = [s["concurrency"] for s in rows]
        thr.plot(conc, [s["median"]["throughput"] for s in rows], marker="o", label=label)
        (line,) = lat.plot(
            conc, [s["median"]["p50_ms"] for s in rows], marker="o", label=f"{label} p50"
        )
        lat.plot(
            conc,
            [s["median"]["p99_ms"] for s in rows],
            marker="x",
            linestyle="--",
            color=line.get_color(),
            label=f"{label} p99",
        )
    for ax in (thr, lat):
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 16, 64], labels=["1", "16", "64"])
        ax.set_xlabel("concurrent connections")
        ax.grid(True, alpha=0.3)
    thr.set_ylabel("async starts per second")
    thr.set_title("Throughput")
    thr.set_ylim(bottom=0)
    lat.set_ylabel("latency (ms)")
    lat.set_yscale("log")
    lat.set_title("Latency")
    thr.legend(fontsize=8)
    lat.legend(fontsize=7, ncol=1)
    fig.suptitle(
        f"Async workflow starts — {results['machine']} — {results['date']}", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
