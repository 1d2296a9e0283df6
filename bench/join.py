#!/usr/bin/python3
# Joins the JSON lines of a benchmark's two sides (Shoal's and its peer's,
# one line per figure per run) into one line per figure with the median of
# each side, as DESIGN.md ("Benchmarks print JSON lines") lays them out:
#
#   {"bench","unit","shoal","peer","peer_value","ratio"[,"limit"]}
#
# `ratio` is above 1 when Shoal is better: shoal / peer for throughputs,
# peer / shoal for figures where lower is better (the units in LOWER_IS_BETTER).
# `limit` is the median of the Shoal side's `limit`.
#
# Checks on the way: where both sides report what they worked on (a log's
# `tree_hash`, a scan's `keys`), every run of both sides must agree, or the
# two sides did not do the same work and the join fails.
#
# Usage: join.py SHOAL.jsonl PEER.jsonl
import json
import statistics
import sys

# Units of figures where lower is better: memory, latency.
LOWER_IS_BETTER = {"MB", "KiB/conn", "us"}
# Fields both sides must report alike for a figure to be a fair comparison.
MUST_AGREE = ("tree_hash", "keys")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def median_of(lines, bench, field):
    values = [l[field] for l in lines if l["bench"] == bench and l.get(field) is not None]
    return statistics.median(values) if values else None


def reported(lines, bench, field):
    return {l[field] for l in lines if l["bench"] == bench and field in l}


def rounded(value, unit):
    if value is None:
        return None
    if unit in ("ops/s", "keys/s"):
        return round(value)
    # Small figures (KiB per connection, µs) keep a second decimal.
    return round(float(value), 2 if abs(float(value)) < 10 else 1)


def main(shoal_path, peer_path):
    shoal_lines, peer_lines = load(shoal_path), load(peer_path)
    benches, units = [], {}
    for l in shoal_lines + peer_lines:
        if l["bench"] not in units:
            benches.append(l["bench"])
            units[l["bench"]] = l["unit"]

    peer_name = next((l["peer"] for l in peer_lines if l.get("peer")), None)
    joined = []
    for bench in benches:
        unit = units[bench]
        shoal = median_of(shoal_lines, bench, "shoal")
        peer = median_of(peer_lines, bench, "peer_value")
        limit = median_of(shoal_lines, bench, "limit")
        has_peer = any(l["bench"] == bench for l in peer_lines)
        ratio = None
        if shoal and peer:
            ratio = round(peer / shoal if unit in LOWER_IS_BETTER else shoal / peer, 2)
        line = {"bench": bench, "unit": unit, "shoal": rounded(shoal, unit),
                "peer": peer_name if has_peer else None, "peer_value": rounded(peer, unit),
                "ratio": ratio}
        if limit is not None:
            line["limit"] = rounded(limit, unit)
        for field in MUST_AGREE:
            ours, theirs = reported(shoal_lines, bench, field), reported(peer_lines, bench, field)
            if len(ours) > 1 or len(theirs) > 1 or (ours and theirs and ours != theirs):
                print(f"join.py: {bench}: the two sides worked on different data "
                      f"({field} {sorted(ours)} vs {sorted(theirs)})", file=sys.stderr)
                return 1
        joined.append(line)

    # Figures with a peer first, then the physical limits measured beside them.
    joined.sort(key=lambda l: l["peer"] is None)
    for line in joined:
        print(json.dumps(line, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: join.py SHOAL.jsonl PEER.jsonl", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
