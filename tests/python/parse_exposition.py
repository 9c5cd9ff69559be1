#!/usr/bin/env python3
"""Parses an exposition from stdin with the reference parsers of the official Python client.

Usage: parse_exposition.py prometheus|openmetrics < exposition

`prometheus` uses prometheus_client.parser.text_string_to_metric_families; `openmetrics` uses the
strict prometheus_client.openmetrics.parser. Prints one JSON document: the families with their
type, help, unit and samples. Any parse error exits 1 with the parser's message on stderr.
"""
import json
import math
import sys


def number(value):
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    return value


def main():
    fmt = sys.argv[1]
    text = sys.stdin.read()
    if fmt == "prometheus":
        from prometheus_client.parser import text_string_to_metric_families
    elif fmt == "openmetrics":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        print(f"unknown format {fmt}", file=sys.stderr)
        return 2
    try:
        families = []
        for family in text_string_to_metric_families(text):
            families.append({
                "name": family.name,
                "type": family.type,
                "help": family.documentation,
                "unit": getattr(family, "unit", ""),
                "samples": [
                    {"name": s.name, "labels": s.labels, "value": number(s.value)}
                    for s in family.samples
                ],
            })
    except Exception as error:  # the parser's own message is what the test shows
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    json.dump(families, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
