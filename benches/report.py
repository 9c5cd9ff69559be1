#!/usr/bin/env python3
"""Turns criterion's estimates and the memory / scrape outputs into the Markdown of BENCHMARKS.md.

usage: report.py CRITERION_DIR RESULTS_DIR
"""
import json
import os
import sys

OURS = "microprofile"

# Group order and titles, with the reference row each ratio is taken against.
SECTIONS = [
    ("counter_inc/1_thread", "1. Counter increment, unlabelled, 1 thread", OURS),
    ("counter_inc/2_thread", "1. Counter increment, unlabelled, 2 threads on one counter", OURS),
    ("labelled_inc/strings/1_thread", "2. Labelled counter, 18 series, string labels, 1 thread", OURS),
    ("labelled_inc/strings/2_thread", "2. Labelled counter, 18 series, string labels, 2 threads", OURS),
    ("labelled_inc/enums/1_thread", "2. Labelled counter, 18 series, enum labels, 1 thread", OURS),
    ("labelled_inc/enums/2_thread", "2. Labelled counter, 18 series, enum labels, 2 threads", OURS),
    ("histogram_observe/fixed_cardinality/1_thread", "3. Histogram observe, fixed cardinality (18 series), 1 thread", OURS),
    ("histogram_observe/fixed_cardinality/2_thread", "3. Histogram observe, fixed cardinality (18 series), 2 threads", OURS),
    ("histogram_observe/one_histogram/1_thread", "3. Histogram observe, one histogram, 1 thread", OURS),
    ("histogram_observe/one_histogram/2_thread", "3. Histogram observe, one histogram, 2 threads", OURS),
    ("function_overhead", "4. Function overhead (one call of a trivial fn)", "microprofile #[timed]"),
    ("encode/100_series", "5. Encoding a counter family of 100 series to Prometheus text", OURS),
    ("encode/100000_series", "5. Encoding a counter family of 100,000 series to Prometheus text", OURS),
]


def fmt_time(ns):
    if ns < 1_000:
        return f"{ns:.2f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.2f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def load(criterion_dir):
    groups = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(root, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(root, "estimates.json")) as f:
            estimates = json.load(f)
        name = bench.get("function_id") or bench.get("value_str")
        median = estimates["median"]
        groups.setdefault(bench["group_id"], {})[name] = (
            median["point_estimate"],
            median["confidence_interval"]["lower_bound"],
            median["confidence_interval"]["upper_bound"],
        )
    return groups


def main():
    criterion_dir, results_dir = sys.argv[1], sys.argv[2]
    groups = load(criterion_dir)
    out = []
    machine = os.path.join(results_dir, "machine.txt")
    if os.path.exists(machine):
        out.append("```")
        out.append(open(machine).read().strip())
        out.append("```")
        out.append("")
    verdicts = []
    for group, title, reference in SECTIONS:
        rows = groups.get(group)
        if not rows:
            continue
        intervals = rows
        rows = {k: v[0] for k, v in intervals.items()}
        ours = rows.get(reference)
        out.append(f"### {title}")
        out.append("")
        out.append(f"| crate | median | 95% CI of the median | ratio to {reference} |")
        out.append("|---|---:|---:|---:|")
        for name, ns in sorted(rows.items(), key=lambda kv: kv[1]):
            ratio = f"{ns / ours:.2f}×" if ours else "–"
            bold = "**" if name == reference else ""
            low, high = intervals[name][1], intervals[name][2]
            out.append(
                f"| {bold}{name}{bold} | {fmt_time(ns)} | {fmt_time(low)} – {fmt_time(high)} | {ratio} |"
            )
        out.append("")
        if group == "function_overhead":
            floor = rows.get("floor: two clock reads + observe")
            timed = rows.get("microprofile #[timed]")
            auto = rows.get("#[autometrics] (prometheus backend)")
            bare = rows.get("bare fn", 0.0)
            if floor and timed:
                ok = timed <= 1.5 * floor
                verdicts.append(
                    f"- `#[timed]` / floor = {timed / floor:.2f}× (target ≤ 1.5×): {'met' if ok else 'missed'}"
                    f"; overhead over the bare fn {timed - bare:.1f} ns vs floor {floor - bare:.1f} ns"
                )
            if auto and timed:
                verdicts.append(f"- `#[autometrics]` / `#[timed]` = {auto / timed:.1f}×")
            for kind in ("timed", "counted"):
                one = rows.get(f"microprofile #[{kind}]")
                reused = rows.get(f"microprofile #[{kind}], reused by 2 fns")
                if one and reused:
                    verdicts.append(
                        f"- `#[{kind}]` reused by two fns / declared once = {reused / one:.2f}×"
                    )
            continue
        if ours is None:
            continue
        peers = {k: v for k, v in rows.items() if k != OURS and k != "atomic_fetch_add"}
        if peers:
            best_name, best = min(peers.items(), key=lambda kv: kv[1])
            if ours <= best:
                verdict = "met"
            elif ours <= 1.10 * best and intervals[OURS][1] <= intervals[best_name][2]:
                verdict = "tie: within 10 % and the confidence intervals overlap"
            else:
                verdict = "missed"
            verdicts.append(
                f"- {title}: ours / fastest peer ({best_name}) = {ours / best:.2f}× "
                f"(target ≤ 1.0×): {verdict}"
            )
        atomic = rows.get("atomic_fetch_add")
        if atomic:
            verdicts.append(
                f"- {title}: ours / bare atomic add = {ours / atomic:.2f}× (target ≤ 2×): "
                f"{'met' if ours <= 2 * atomic else 'missed'}"
            )
    for extra, title in [("memory.md", "6. Memory at 100,000 series"),
                         ("scrape.md", "7. Scrape of the base scope")]:
        path = os.path.join(results_dir, extra)
        if os.path.exists(path):
            table = [l for l in open(path).read().splitlines() if l.startswith("|")]
            out.append(f"### {title}")
            out.append("")
            out.extend(table)
            out.append("")
    if verdicts:
        out.append("### Targets, from this run")
        out.append("")
        out.extend(verdicts)
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
