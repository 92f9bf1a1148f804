#!/usr/bin/env python3
"""Nimbus beside Syncthing on one machine: see README.md beside this file.

Started by run.sh, which finds the binaries and the shared services. Each
case stages the same data outside both folders, renames it into device A's
folder and times it until device B has all of it.
"""

import argparse
import glob
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
import json
import xml.etree.ElementTree as ET

TICK = os.sysconf("SC_CLK_TCK")


def log(message):
    print(f"  .. {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"error: {what} did not happen within {timeout} s")
        time.sleep(interval)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def cpu_seconds(pid):
    """User + system CPU of a process, in seconds (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, ProcessLookupError):
        return None


def reset_peak_rss(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


class System:
    """One of the two: its processes, two folders, and how to count CPU."""

    name = ""

    def __init__(self, work):
        self.work = work
        self.a = os.path.join(work, "a")
        self.b = os.path.join(work, "b")
        self.procs = {}  # label -> Popen
        self.logs = os.path.join(work, "log")
        os.makedirs(self.logs, exist_ok=True)

    def spawn(self, label, argv, env=None):
        out = open(os.path.join(self.logs, f"{label}.log"), "ab")
        self.procs[label] = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def pids(self):
        """Every process whose CPU counts, by label."""
        return {label: p.pid for label, p in self.procs.items()}

    def device_pid(self, device):
        return self.procs[device].pid

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


class Nimbus(System):
    name = "Nimbus"

    def __init__(self, work, bins, admin_url, amqp_url, client_amqp_url, client=None):
        super().__init__(work)
        self.bins = bins
        self.client = client or os.path.join(bins, "nimbus")
        self.admin_url = admin_url
        run = uuid.uuid4().hex[:12]
        self.databases = [f"nimbus_bench_server_{run}", f"nimbus_bench_proxy_{run}"]
        for db in self.databases:
            self.psql(f'CREATE DATABASE "{db}"')
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        base = admin_url.rsplit("/", 1)[0]
        self.server_db_url = f"{base}/{self.databases[0]}"
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        self.env = env
        server_env = dict(
            env,
            NIMBUS_DATABASE_URL=self.server_db_url,
            NIMBUS_AMQP_URL=amqp_url,
            NIMBUS_QUEUE_PREFIX=f"bench-{run}",
            NIMBUS_QUEUE_TYPE="classic",
            NIMBUS_STORAGE_URL=self.url,
        )
        subprocess.run([self.bin("nimbus-server"), "migrate"], env=server_env, check=True,
                       stdout=subprocess.DEVNULL)
        self.spawn("server", [self.bin("nimbus-server"), "serve"], server_env)
        proxy_env = dict(
            env,
            NIMBUS_PROXY_LISTEN=f"127.0.0.1:{port}",
            NIMBUS_PROXY_PUBLIC_URL=self.url,
            NIMBUS_PROXY_DATABASE_URL=f"{base}/{self.databases[1]}",
            NIMBUS_PROXY_AMQP_URL=amqp_url,
            NIMBUS_PROXY_PUBLIC_AMQP_URL=client_amqp_url,
            NIMBUS_PROXY_QUEUE_PREFIX=f"bench-{run}",
            NIMBUS_PROXY_STORAGE__SCHEME="fs",
            NIMBUS_PROXY_STORAGE__OPTIONS__ROOT=os.path.join(work, "objects"),
        )
        self.spawn("proxy", [self.bin("nimbus-proxy")], proxy_env)
        wait_until("the proxy listening", lambda: port_open(port), 60, 0.2)
        password = uuid.uuid4().hex
        subprocess.run(
            [self.bin("nimbus-server"), "user", "add", "bench", "--email",
             "bench@example.org", "--password-stdin"],
            input=password.encode(), env=server_env, check=True, stdout=subprocess.DEVNULL,
        )
        for device, root in (("a", self.a), ("b", self.b)):
            os.makedirs(root)
            subprocess.run(
                [self.bin("nimbus"), "--config-dir", self.config(device), "login", self.url,
                 "--user", "bench", "--password-stdin", "--device", device],
                input=password.encode(), env=env, check=True, stdout=subprocess.DEVNULL,
            )
        for device, root in (("a", self.a), ("b", self.b)):
            self.spawn(device, [self.bin("nimbus"), "--config-dir", self.config(device),
                                "sync", root], env)
        for device in ("a", "b"):
            wait_until(f"device {device}'s first round", lambda: self.last_sync(device), 60, 0.2)

    def bin(self, name):
        return self.client if name == "nimbus" else os.path.join(self.bins, name)

    def config(self, device):
        return os.path.join(self.work, f"config-{device}")

    def psql(self, sql, url=None):
        return subprocess.run(
            ["psql", "-qAt", "-v", "ON_ERROR_STOP=1", url or self.admin_url, "-c", sql],
            check=True, capture_output=True, text=True,
        ).stdout.strip()

    def state(self, device, key):
        paths = glob.glob(os.path.join(self.config(device), "folders", "*", "state.db"))
        if not paths:
            return None
        with sqlite3.connect(f"file:{paths[0]}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def last_sync(self, device):
        try:
            return self.state(device, "status.last_sync_ms")
        except sqlite3.Error:
            return None

    def pids(self):
        pids = super().pids()
        # The PostgreSQL backends serving this run's two databases.
        names = ",".join(f"'{db}'" for db in self.databases)
        rows = self.psql(f"SELECT pid FROM pg_stat_activity WHERE datname IN ({names})")
        for pid in rows.split():
            pids[f"postgres-{pid}"] = int(pid)
        return pids

    def stop(self):
        super().stop()
        for db in self.databases:
            self.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


class Syncthing(System):
    name = "Syncthing"

    def __init__(self, work):
        super().__init__(work)
        homes = {d: os.path.join(work, f"home-{d}") for d in ("a", "b")}
        ids, ports, self.api = {}, {}, {}
        for d, home in homes.items():
            subprocess.run(["syncthing", "generate", f"--home={home}", "--no-default-folder"],
                           check=True, capture_output=True)
            ids[d] = subprocess.run(["syncthing", "serve", f"--home={home}", "--device-id"],
                                    check=True, capture_output=True, text=True).stdout.strip()
            ports[d] = (free_port(), free_port())
        for d, home in homes.items():
            peer = "b" if d == "a" else "a"
            root = self.a if d == "a" else self.b
            # The folder marker, as Syncthing makes it when a folder is added.
            os.makedirs(os.path.join(root, ".stfolder"))
            self.api[d] = (ports[d][0], configure(home, ids[d], ids[peer], ports[d], ports[peer][1], root))
        # STMONITORED: run as one process, without the monitor that restarts it
        # (its CPU and memory are then those of the process started here).
        env = dict(os.environ, STNORESTART="1", STNOUPGRADE="1", STMONITORED="yes")
        for d, home in homes.items():
            self.spawn(d, ["syncthing", "serve", f"--home={home}", "--no-browser",
                           "--no-restart", "--no-upgrade"], env)
        for d in ("a", "b"):
            wait_until(f"Syncthing {d}'s API", lambda: port_open(self.api[d][0]), 60, 0.2)
        wait_until("the two Syncthing devices connected",
                   lambda: any(c["connected"] for c in self.rest("a", "/rest/system/connections")
                               ["connections"].values()), 90, 0.5)
        for d in ("a", "b"):
            wait_until(f"Syncthing {d}'s folder idle",
                       lambda: self.rest(d, "/rest/db/status?folder=bench")["state"] == "idle",
                       90, 0.5)

    def rest(self, device, path):
        port, key = self.api[device]
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                         headers={"X-API-Key": key})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


def configure(home, own_id, peer_id, own_ports, peer_listen, root):
    """Loopback only, no discovery, relays, NAT, reports or upgrades; one
    folder shared with the peer, watcher at its 1 s minimum. Returns the API key."""
    path = os.path.join(home, "config.xml")
    tree = ET.parse(path)
    conf = tree.getroot()
    gui = conf.find("gui")
    gui.find("address").text = f"127.0.0.1:{own_ports[0]}"
    key = gui.find("apikey").text
    options = conf.find("options")
    for tag, value in {
        "listenAddress": f"tcp://127.0.0.1:{own_ports[1]}",
        "globalAnnounceEnabled": "false",
        "localAnnounceEnabled": "false",
        "relaysEnabled": "false",
        "natEnabled": "false",
        "urAccepted": "-1",
        "startBrowser": "false",
        "crashReportingEnabled": "false",
        "autoUpgradeIntervalH": "0",
        # Nimbus runs at normal priority too.
        "setLowPriority": "false",
    }.items():
        options.find(tag).text = value
    own = conf.find("device")
    peer = ET.SubElement(conf, "device", dict(own.attrib, id=peer_id, name="peer"))
    ET.SubElement(peer, "address").text = f"tcp://127.0.0.1:{peer_listen}"
    template = conf.find("defaults/folder")
    folder = ET.Element("folder", dict(template.attrib, id="bench", label="bench", path=root,
                                       fsWatcherDelayS="1", rescanIntervalS="3600"))
    for child in template:
        if child.tag != "device":
            folder.append(child)
    for device_id in (own_id, peer_id):
        ET.SubElement(folder, "device", {"id": device_id, "introducedBy": ""})
    conf.insert(0, folder)
    tree.write(path)
    return key


def cpu_of(system):
    return {label: cpu_seconds(pid) or 0.0 for label, pid in system.pids().items()}


def cpu_since(system, before):
    after = cpu_of(system)
    return sum(after[l] - before.get(l, 0.0) for l in after)


def wait_idle(system, limit=15):
    """Waits until the system's processes use under 2% of a core for 0.5 s
    (work left after B has everything: A's last commit, index updates)."""
    deadline = time.monotonic() + limit
    previous = cpu_of(system)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = cpu_of(system)
        used = sum(current[l] - previous.get(l, 0.0) for l in current)
        if used < 0.01:
            return
        previous = current


def count_names(root, prefix):
    """Files with final names under `root` (temporaries of both systems are
    dot files, and Nimbus keeps its own under .nimbus)."""
    total = 0
    try:
        dirs = os.listdir(root)
    except FileNotFoundError:
        return 0
    for d in dirs:
        if d.startswith("."):
            continue
        try:
            total += sum(1 for n in os.listdir(os.path.join(root, d)) if n.startswith(prefix))
        except (FileNotFoundError, NotADirectoryError):
            pass
    return total


def timed_transfer(system, staged, name, done):
    """Renames `staged` into A as `name`; returns (seconds until `done()`,
    CPU seconds of every process, peak RSS of A in MiB)."""
    reset_peak_rss(system.device_pid("a"))
    before = cpu_of(system)
    start = time.monotonic()
    os.rename(staged, os.path.join(system.a, name))
    wait_until(f"{system.name}: {name} on B", done, 3600, 0.05)
    elapsed = time.monotonic() - start
    wait_idle(system)
    return elapsed, cpu_since(system, before), peak_rss_mib(system.device_pid("a"))


def make_small_files(path, files):
    rng = random.Random(1)
    for i in range(files):
        d = os.path.join(path, f"dir{i // 100:03}")
        if i % 100 == 0:
            os.makedirs(d)
        with open(os.path.join(d, f"file{i:05}.txt"), "wb") as f:
            f.write(rng.randbytes(4096))


def make_big_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 << 20)
            f.write(os.urandom(n))
            left -= n


def edit_latency(system, edits, name="edit.txt"):
    """Saves a small file on A `edits` times; the time until B shows each
    version. Returns (sorted latencies in s, CPU seconds per edit of each
    device, peak RSS of each device in MiB meanwhile)."""
    path_a = os.path.join(system.a, "notes", name)
    path_b = os.path.join(system.b, "notes", name)
    os.makedirs(os.path.dirname(path_a), exist_ok=True)

    def shows(content):
        def check():
            try:
                with open(path_b, "rb") as f:
                    return f.read() == content
            except FileNotFoundError:
                return False
        return check

    with open(path_a, "wb") as f:
        f.write(b"first")
    wait_until(f"{system.name}: the note on B", shows(b"first"), 120, 0.01)
    wait_idle(system)
    devices = {d: system.device_pid(d) for d in ("a", "b")}
    before = {d: cpu_seconds(p) for d, p in devices.items()}
    for pid in devices.values():
        reset_peak_rss(pid)
    samples = []
    rng = random.Random(2)
    for i in range(edits):
        content = f"edit {i}: {rng.random()}\n".encode()
        start = time.monotonic()
        with open(path_a, "wb") as f:
            f.write(content)
        wait_until(f"{system.name}: edit {i} on B", shows(content), 120, 0.002)
        samples.append(time.monotonic() - start)
        time.sleep(0.3 + rng.random() * 0.2)
    wait_idle(system)
    cpu = {d: (cpu_seconds(p) - before[d]) / edits for d, p in devices.items()}
    rss = {d: peak_rss_mib(p) for d, p in devices.items()}
    return sorted(samples), cpu, rss


def percentile(sorted_samples, p):
    index = round((len(sorted_samples) - 1) * p)
    return sorted_samples[index]


def scaling(args):
    """The cost of one small edit with trees of growing size, for each client
    binary: the tree grows in one set-up (files staged and renamed in, then
    synced to B), and at each size `--edits` edits are timed."""
    sizes = [int(n) for n in args.scaling.split(",")]
    clients = (args.clients or os.path.join(args.bin_dir, "nimbus")).split(",")
    results = {}
    for c, client in enumerate(clients):
        work = os.path.join(args.work, f"client{c}")
        log(f"starting Nimbus with {client}")
        nimbus = Nimbus(work, args.bin_dir, args.postgres, args.amqp, args.client_amqp, client)
        try:
            have = 0
            for size in sizes:
                staged = os.path.join(work, f"grow{size}")
                log(f"growing the tree to {size} files")
                make_small_files(staged, size - have)
                name = os.path.basename(staged)
                timed_transfer(nimbus, staged, name,
                               lambda n=size - have, name=name:
                               count_names(os.path.join(nimbus.b, name), "file") >= n)
                have = size
                log(f"{args.edits} edits with {size} files")
                results[(c, size)] = edit_latency(nimbus, args.edits, f"edit{size}.txt")
        finally:
            nimbus.stop()
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    print(f"Nimbus, one small edit as the tree grows, {args.edits} edits per size, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load {' '.join(open('/proc/loadavg').read().split()[:3])} at the end")
    for c, client in enumerate(clients):
        print(f"  client {c}: {client}")
    header = ["client", "files", "p50 ms", "p99 ms", "CPU/edit A ms", "CPU/edit B ms",
              "peak RSS A MiB", "CPU ratio to smallest", "CPU ratio to client 0"]
    rows = []
    for c in range(len(clients)):
        base = sum(results[(c, sizes[0])][1].values())
        for size in sizes:
            lat, cpu, rss = results[(c, size)]
            total = sum(cpu.values())
            first = sum(results[(0, size)][1].values())
            rows.append([str(c), str(size), f"{percentile(lat, 0.5) * 1000:.0f}",
                         f"{percentile(lat, 0.99) * 1000:.0f}", f"{cpu['a'] * 1000:.1f}",
                         f"{cpu['b'] * 1000:.1f}", f"{rss['a']:.0f}", f"{total / base:.2f}",
                         f"{total / first:.2f}"])
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print(" | ".join(h.rjust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(v.rjust(w) for v, w in zip(r, widths)))




def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--amqp", required=True)
    parser.add_argument("--client-amqp", required=True)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--scaling", help="tree sizes, e.g. 100,10000,100000: Nimbus only, "
                        "the cost of one small edit as the tree grows")
    parser.add_argument("--clients", help="nimbus binaries to compare in --scaling "
                        "(comma-separated; default: the one in --bin-dir)")
    args = parser.parse_args()
    if args.scaling:
        return scaling(args)

    stage = os.path.join(args.work, "stage")
    os.makedirs(stage)
    log(f"staging {args.files} files of 4 KiB and one file of {args.big_mib} MiB")
    make_small_files(os.path.join(stage, "small"), args.files)
    make_big_file(os.path.join(stage, "big.bin"), args.big_mib << 20)

    systems = []
    try:
        log("starting Nimbus (server, proxy, two devices)")
        systems.append(Nimbus(os.path.join(args.work, "nimbus"), args.bin_dir, args.postgres,
                              args.amqp, args.client_amqp))
        log("starting Syncthing (two devices)")
        systems.append(Syncthing(os.path.join(args.work, "syncthing")))
        results = {s.name: {} for s in systems}
        for s in systems:
            shutil.copytree(os.path.join(stage, "small"), os.path.join(s.work, "small"))
            shutil.copyfile(os.path.join(stage, "big.bin"), os.path.join(s.work, "big.bin"))
        subprocess.run(["sync"], check=True)

        for s in systems:
            log(f"{s.name}: {args.files} small files")
            r = results[s.name]
            r["small"] = timed_transfer(
                s, os.path.join(s.work, "small"), "small",
                lambda s=s: count_names(os.path.join(s.b, "small"), "file") >= args.files)
        for s in systems:
            log(f"{s.name}: one {args.big_mib} MiB file")
            size = args.big_mib << 20
            target = os.path.join(s.b, "big.bin")
            results[s.name]["big"] = timed_transfer(
                s, os.path.join(s.work, "big.bin"), "big.bin",
                lambda t=target: os.path.exists(t) and os.path.getsize(t) == size)
        for s in systems:
            if not (filecmp_same(os.path.join(stage, "big.bin"), os.path.join(s.b, "big.bin"))
                    and count_sized(os.path.join(s.b, "small"), 4096) == args.files):
                raise SystemExit(f"error: {s.name}'s device B does not hold the same bytes")
        for s in systems:
            log(f"{s.name}: {args.edits} edits")
            results[s.name]["edits"] = edit_latency(s, args.edits)
        nimbus = systems[0]
        extra = nimbus_checks(nimbus)
    finally:
        for s in systems:
            s.stop()
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)

    report(results, args, extra)


def filecmp_same(a, b):
    import filecmp
    return filecmp.cmp(a, b, shallow=False)


def count_sized(root, size):
    return sum(1 for d, _, names in os.walk(root) for n in names
               if os.path.getsize(os.path.join(d, n)) == size)


def nimbus_checks(nimbus):
    """What the issue's quick levers say, read from this run."""
    revision = nimbus.psql("SELECT max(revision) FROM workspaces", nimbus.server_db_url)
    cursor = nimbus.state("a", "cursor")
    with open(os.path.join(nimbus.logs, "proxy.log"), errors="replace") as f:
        warnings = sum(1 for line in f if " WARN " in line)
    return {"revision": revision, "cursor_a": cursor, "proxy_warnings": warnings}


def report(results, args, extra):
    n, s = results["Nimbus"], results["Syncthing"]
    rows = []

    def row(label, a, b, unit, fmt="{:.2f}"):
        rows.append((label, fmt.format(a) + unit, fmt.format(b) + unit,
                     f"{a / b:.2f}" if b else "-"))

    mib = args.big_mib
    row(f"{args.files} files of 4 KiB, A to B", n["small"][0], s["small"][0], " s")
    row(f"one {mib} MiB file, A to B", n["big"][0], s["big"][0], " s")
    row(f"  ({mib} MiB) throughput", mib / n["big"][0], mib / s["big"][0], " MiB/s", "{:.0f}")
    lat_n, lat_s = n["edits"][0], s["edits"][0]
    row(f"small edit, save to visible on B, p50 ({args.edits})",
        percentile(lat_n, 0.5) * 1000, percentile(lat_s, 0.5) * 1000, " ms", "{:.0f}")
    row("small edit, save to visible on B, p99",
        percentile(lat_n, 0.99) * 1000, percentile(lat_s, 0.99) * 1000, " ms", "{:.0f}")
    row(f"CPU per edit, A + B ({args.files}-file tree)",
        sum(n["edits"][1].values()) * 1000, sum(s["edits"][1].values()) * 1000, " ms", "{:.0f}")
    row(f"peak RSS of device A, {args.files} files", n["small"][2], s["small"][2], " MiB", "{:.0f}")
    row(f"peak RSS of device A, {mib} MiB file", n["big"][2], s["big"][2], " MiB", "{:.0f}")
    row(f"CPU of all processes, {args.files} files", n["small"][1], s["small"][1], " s", "{:.1f}")
    row(f"CPU of all processes, {mib} MiB file", n["big"][1], s["big"][1], " s", "{:.1f}")

    load = open("/proc/loadavg").read().split()[:3]
    print(f"Nimbus vs Syncthing {subprocess.run(['syncthing', '--version'], capture_output=True, text=True).stdout.split()[1]}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load {' '.join(load)} at the end")
    widths = [max(len(r[i]) for r in rows + [("case", "Nimbus", "Syncthing", "ratio")])
              for i in range(4)]
    header = ("case", "Nimbus", "Syncthing", "ratio")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]))
    print("ratio = Nimbus / Syncthing (below 1: Nimbus faster or smaller)")
    print(f"Nimbus device A's change cursor: {extra['cursor_a']} "
          f"(workspace revision {extra['revision']}); proxy WARN lines: {extra['proxy_warnings']}")


if __name__ == "__main__":
    main()
