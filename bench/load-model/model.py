#!/usr/bin/env python3
"""How many of each component a population of Nimbus users needs.

The per-operation costs come from the benchmarks (costs.json, written by
run.sh: the metadata server's `op_costs` and the proxy's `chunk_upload`);
how often users cause each operation comes from the profile below, whose
every figure is an assumption written down in docs/scaling.md. The model is
deliberately plain arithmetic: peak operations per second times CPU seconds
per operation, divided by the share of a core we are willing to fill.

    python3 bench/load-model/model.py [--costs FILE] [--users N ...]
"""

import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# What an average user does in a day. Assumptions, not measurements: see
# docs/scaling.md ("The profile") for where each comes from.
PROFILE = {
    "devices": 2.5,  # a computer, a phone, now and then a browser
    "files_changed_per_day": 60,  # new or modified files, all devices together
    "items_per_commit": 4,  # the daemon batches what changed within its debounce
    "bytes_uploaded_per_day": 80 * 2**20,  # photos, documents
    "reconnects_per_device_per_day": 24,  # laptop sleeps, phone networks: an empty catch-up each
    "light_calls_per_device_per_day": 30,  # getAccount, getWorkspaces, listings
    "peak_to_mean": 3.0,  # the busiest hour against the day's average hour
}

# How full we let each kind of core get at the peak: headroom for a node
# lost, a burst, a slow disk.
TARGET_UTILIZATION = 0.5
CORES_PER_SERVER = 4  # metadata servers and proxies: small stateless VMs
CORES_PER_DATABASE_NODE = 16  # a PostgreSQL (Citus worker) node
# One RabbitMQ quorum queue is served by its leader's Erlang process: a
# planning figure of messages per second one queue sustains, well under
# what RabbitMQ's own quorum-queue benchmarks report for small messages.
MESSAGES_PER_QUEUE = 10_000
DAY = 86_400.0


def load_costs(path):
    with open(path) as f:
        document = json.load(f)
    operations = document["operations"]
    needed = ["get_account", "commit_1_file", "commit_item", "get_changes_empty",
              "get_changes_page", "chunk_put"]
    missing = [name for name in needed if name not in operations]
    if missing:
        sys.exit(f"{path} lacks {', '.join(missing)}: run bench/load-model/run.sh to measure them")
    return document, operations


def peak_rates(users, costs_document):
    """Operations per second at the peak hour for `users` users."""
    p = PROFILE
    per_user_day = {
        "commits": p["files_changed_per_day"] / p["items_per_commit"],
        "commit_items": p["files_changed_per_day"],
        # Every other device of the user fetches each commit's delta.
        "delta_fetches": p["files_changed_per_day"] / p["items_per_commit"] * (p["devices"] - 1),
        "delta_items": p["files_changed_per_day"] * (p["devices"] - 1),
        "empty_catch_ups": p["reconnects_per_device_per_day"] * p["devices"],
        "light_calls": p["light_calls_per_device_per_day"] * p["devices"],
        "chunk_puts": p["bytes_uploaded_per_day"]
        / costs_document["operations"]["chunk_put"]["mean_chunk_bytes"],
        "bytes_in": p["bytes_uploaded_per_day"],
        # The user's other devices download what one uploads.
        "bytes_out": p["bytes_uploaded_per_day"] * (p["devices"] - 1),
    }
    scale = users * p["peak_to_mean"] / DAY
    return {name: per_day * scale for name, per_day in per_user_day.items()}


def component_needs(rates, ops, items_per_page):
    """CPU seconds per second at the peak, by component."""
    # What each item of a delta adds to an empty getChanges.
    delta_item = {
        key: max(ops["get_changes_page"][key] - ops["get_changes_empty"][key], 0.0)
        / items_per_page
        for key in ("server_cpu_ms", "database_cpu_ms", "broker_cpu_ms")
    }

    def cpu(key):
        ms = (
            rates["commits"] * ops["commit_1_file"][key]
            + (rates["commit_items"] - rates["commits"]) * ops["commit_item"][key]
            + rates["delta_fetches"] * ops["get_changes_empty"][key]
            + rates["delta_items"] * delta_item[key]
            + rates["empty_catch_ups"] * ops["get_changes_empty"][key]
            + rates["light_calls"] * ops["get_account"][key]
        )
        return ms / 1000.0

    chunk = ops["chunk_put"]
    # Downloads are counted at the cost of uploads: not measured yet, and a
    # GET does less (no hashing, no fsync), so this errs on the safe side.
    chunk_ops = rates["chunk_puts"] * PROFILE["devices"]
    rpcs = (rates["commits"] + rates["delta_fetches"] + rates["empty_catch_ups"]
            + rates["light_calls"])
    return {
        "metadata_cpu": cpu("server_cpu_ms"),
        "database_cpu": cpu("database_cpu_ms") + chunk_ops * chunk["database_cpu_ms"] / 1000.0,
        "broker_cpu": cpu("broker_cpu_ms"),
        "proxy_cpu": chunk_ops * chunk["proxy_cpu_ms"] / 1000.0,
        # A request and a reply per RPC, and a notification per commit to
        # each other device.
        "broker_messages": 2 * rpcs + rates["commits"] * (PROFILE["devices"] - 1),
    }


def machines(cpu_seconds_per_second, cores_per_machine, minimum):
    cores = cpu_seconds_per_second / TARGET_UTILIZATION
    return cores, max(minimum, math.ceil(cores / cores_per_machine))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--costs", default=os.path.join(HERE, "costs.json"))
    parser.add_argument("--users", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()

    document, ops = load_costs(args.costs)
    items_per_page = document["changes_page_items"]

    print(f"measured costs ({args.costs}), CPU milliseconds per operation:")
    print(f"  {'operation':<22} {'server':>9} {'database':>9} {'broker':>9} {'proxy':>9}")
    for name in ["get_account", "commit_1_file", "commit_item", "get_changes_empty",
                 "get_changes_page", "chunk_put"]:
        op = ops[name]
        cells = [op.get(key) for key in ("server_cpu_ms", "database_cpu_ms", "broker_cpu_ms",
                                        "proxy_cpu_ms")]
        print(f"  {name:<22} " + " ".join(
            f"{c:>9.3f}" if c is not None else f"{'-':>9}" for c in cells))
    print()
    print("profile (per user; peak hour = "
          f"{PROFILE['peak_to_mean']:g} x the mean): " + ", ".join(
              f"{k}={v:g}" for k, v in PROFILE.items() if k != "peak_to_mean"))
    print(f"sizing: cores filled to {TARGET_UTILIZATION:.0%} at the peak; "
          f"{CORES_PER_SERVER}-core metadata servers and proxies, "
          f"{CORES_PER_DATABASE_NODE}-core database nodes, "
          f"{MESSAGES_PER_QUEUE:,} messages/s per request queue")
    print()
    header = (f"{'users':>10} {'commits/s':>10} {'items/s':>9} {'chunks/s':>9} {'MB/s in':>8}"
              f" {'MB/s out':>9} | {'metadata':>9} {'database':>9} {'proxies':>8}"
              f" {'queues':>7} {'broker':>7}")
    print(header)
    print(f"{'':>10} {'':>10} {'':>9} {'':>9} {'':>8} {'':>9} |"
          f" {'servers':>9} {'nodes':>9} {'':>8} {'':>7} {'cores':>7}")
    for users in args.users:
        rates = peak_rates(users, document)
        needs = component_needs(rates, ops, items_per_page)
        _, metadata = machines(needs["metadata_cpu"], CORES_PER_SERVER, 2)
        _, database = machines(needs["database_cpu"], CORES_PER_DATABASE_NODE, 1)
        _, proxies = machines(needs["proxy_cpu"], CORES_PER_SERVER, 2)
        queues = max(1, math.ceil(needs["broker_messages"] / MESSAGES_PER_QUEUE))
        broker_cores = needs["broker_cpu"] / TARGET_UTILIZATION
        print(f"{users:>10,} {rates['commits']:>10.1f} {rates['commit_items']:>9.1f}"
              f" {rates['chunk_puts']:>9.1f} {rates['bytes_in'] / 1e6:>8.1f}"
              f" {rates['bytes_out'] / 1e6:>9.1f} | {metadata:>9} {database:>9} {proxies:>8}"
              f" {queues:>7} {broker_cores:>7.1f}")


if __name__ == "__main__":
    main()
