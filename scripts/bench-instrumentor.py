#!/usr/bin/env python3
"""The anchor of the Redis benchmarks: the same work done by `instrumentor` 0.0.1, the Python
library whose design document the shared store's format comes from, timed with
time.perf_counter over many repetitions.

Run by microprofile/benches/redis_instrumentor.rs (see scripts/bench-redis) against the
redis-server the bench started, so both sides use one server in one run:

  bench-instrumentor.py transfer --url URL --namespace NS --series 10000 --repetitions 20
      each repetition: Counter.inc(labels=...) once on each of the series, then one
      CollectorRegistry.transfer() (one pipeline: one round trip)
  bench-instrumentor.py expose --url URL --namespace NS --repetitions 10
      each repetition: one ExpositionClient.expose() (HGETALL, decode, render)
  bench-instrumentor.py count --url URL --namespace NS
      prints `samples <n>`: the sample lines of one expose()

`--out FILE` appends the figures as one JSON line (seconds). Needs the interpreter of
scripts/instrumentor-env (instrumentor, redis, attrs).
"""

import argparse
import json
import os
import statistics
import sys
import time

import redis
from instrumentor.exposition import ExpositionClient
from instrumentor.metrics import Counter
from instrumentor.registry import CollectorRegistry


def sample_lines(text):
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def figures(case, times, **extra):
    times = sorted(times)
    quartiles = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return dict(
        case=case,
        repetitions=len(times),
        median_s=statistics.median(times),
        min_s=times[0],
        p25_s=quartiles[0],
        p75_s=quartiles[2],
        max_s=times[-1],
        **extra,
    )


def server_seconds_per_call(client, commands):
    """The calls of the first of `commands` since the last CONFIG RESETSTAT, and the time
    redis-server spent in all of them per such call (INFO commandstats): the server's share of
    one operation."""
    stats = client.info("commandstats")
    usec = sum(stats.get(f"cmdstat_{c}", {}).get("usec", 0) for c in commands)
    calls = stats.get(f"cmdstat_{commands[0]}", {}).get("calls", 0)
    return calls, (usec / calls / 1e6 if calls else 0.0)


def transfer(client, args):
    registry = CollectorRegistry(client, args.namespace)
    # The same family as the Rust side: labels method and route, one series per route.
    counter = Counter(
        "bench_requests", "Requests served.", allowed_labels=["method", "route"]
    )
    registry.register(counter)
    labels = [{"method": "GET", "route": f"/r{i}"} for i in range(args.series)]

    def once():
        for label in labels:
            counter.inc(labels=label)
        changed = sum(1 for key in registry.buffer if ":t:" not in key and ":d:" not in key)
        registry.transfer()
        return changed

    for _ in range(args.warmup):
        changed = once()
        if changed != args.series:
            sys.exit(f"instrumentor buffered {changed} series, expected {args.series}")
    client.config_resetstat()
    times = []
    for _ in range(args.repetitions):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    # One transfer is one MULTI/EXEC pipeline of HINCRBYs; EXEC's time includes theirs.
    calls, server_s = server_seconds_per_call(client, ["exec", "multi"])
    if calls != args.repetitions:
        sys.exit(f"instrumentor: {calls} transactions for {args.repetitions} transfers")
    # Every repetition reached Redis: each series counts warm-up + measured repetitions.
    runs = args.warmup + args.repetitions
    fields = client.hgetall(args.namespace)
    wrong = [
        k for k, v in fields.items()
        if b":t:" not in k and b":d:" not in k and int(v) != runs
    ]
    series = sum(1 for k in fields if b":t:" not in k and b":d:" not in k)
    if wrong or series != args.series:
        sys.exit(f"instrumentor: {series} series in Redis, {len(wrong)} not at {runs}")
    return figures("transfer", times, series=args.series, server_s=server_s)


def expose(client, args):
    exposition = ExpositionClient(client, args.namespace)
    samples = None
    for _ in range(args.warmup):
        samples = sample_lines(exposition.expose())
    client.config_resetstat()
    times = []
    for _ in range(args.repetitions):
        start = time.perf_counter()
        text = exposition.expose()
        times.append(time.perf_counter() - start)
        samples = sample_lines(text)
    _, server_s = server_seconds_per_call(client, ["hgetall"])
    return figures(
        "expose",
        times,
        fields=client.hlen(args.namespace),
        samples=samples,
        server_s=server_s,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", choices=["transfer", "expose", "count"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.url)

    load_before = os.getloadavg()[0]
    if args.case == "count":
        print(f"samples {sample_lines(ExpositionClient(client, args.namespace).expose())}")
        return
    result = transfer(client, args) if args.case == "transfer" else expose(client, args)
    result["python"] = sys.version.split()[0]
    # The 1-minute load average when this case started (right after the Rust side of the same
    # case) and when it ended.
    result["load"] = [load_before, os.getloadavg()[0]]
    print(
        "instrumentor {case}: median {median:.2f} ms [{low:.2f} ms {high:.2f} ms], "
        "{n} repetitions".format(
            case=result["case"],
            median=result["median_s"] * 1e3,
            low=result["min_s"] * 1e3,
            high=result["max_s"] * 1e3,
            n=result["repetitions"],
        )
    )
    if args.out:
        with open(args.out, "a") as out:
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
