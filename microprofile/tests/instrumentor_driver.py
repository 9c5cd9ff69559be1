"""Drives instrumentor 0.0.1 (the Python library of the design document the Redis store's format
comes from) for tests/redis_instrumentor.rs: the independent writer and reader of the format.

    instrumentor_driver.py write PORT NAMESPACE    # the scenario below, through CollectorRegistry
    instrumentor_driver.py hostile PORT NAMESPACE  # values with raw ':' ',' '=' '"' '%'
    instrumentor_driver.py expose PORT NAMESPACE   # ExpositionClient.expose() to stdout

The scenario is mirrored operation for operation by the Rust side of the test (`scenario`).
"""

import sys

from redis import Redis

import instrumentor
from instrumentor.exposition import ExpositionClient


def write(redis, namespace):
    reg = instrumentor.CollectorRegistry(redis_client=redis, namespace=namespace)
    requests = instrumentor.Counter(
        name="http_requests_total",
        description="Total HTTP requests",
        allowed_labels={"method", "handler"},
    )
    jobs = instrumentor.Counter(name="jobs_total", description="Jobs done")
    spent = instrumentor.Counter(name="spent_seconds_total", description="Time spent")
    temperature = instrumentor.Gauge(
        name="temperature_celcius",
        description="Temperature in celcius",
        allowed_labels={"location"},
    )
    latency = instrumentor.Histogram(
        name="http_request_duration_seconds",
        description="Duration of HTTP requests",
        buckets=[0.05, 0.1, 0.2, 0.5, 1.0],
    )
    for metric in (requests, jobs, spent, temperature, latency):
        reg.register(metric)

    for _ in range(3):
        requests.inc(labels={"method": "POST", "handler": "/messages"})
    requests.inc(2, labels={"handler": "/", "method": "GET"})
    for _ in range(5):
        jobs.inc()
    spent.inc(0.5)
    spent.inc(0.25)
    temperature.inc(3, labels={"location": "MainOffice"})
    temperature.dec(1, labels={"location": "MainOffice"})
    for value in (0.01, 0.07, 0.3, 0.3, 2.0):
        latency.observe(value)
    reg.transfer()
    # A second transfer adds to what is there.
    requests.inc(labels={"method": "POST", "handler": "/messages"})
    latency.observe(0.15)
    reg.transfer()


def hostile(redis, namespace):
    reg = instrumentor.CollectorRegistry(redis_client=redis, namespace=namespace)
    odd = instrumentor.Counter(
        name="odd_total", description="Odd values", allowed_labels={"path"}
    )
    reg.register(odd)
    odd.inc(labels={"path": "/a:b"})
    odd.inc(2, labels={"path": "x,y=z"})
    odd.inc(3, labels={"path": "100%"})
    odd.inc(4, labels={"path": 'say "hi"'})
    reg.transfer()


def main():
    command, port, namespace = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    redis = Redis(host="127.0.0.1", port=port)
    if command == "write":
        write(redis, namespace)
    elif command == "hostile":
        hostile(redis, namespace)
    elif command == "expose":
        sys.stdout.write(ExpositionClient(redis_client=redis, namespace=namespace).expose())
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
