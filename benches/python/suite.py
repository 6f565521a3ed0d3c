"""The benchmark suite driver (run it through scripts/bench.sh).

Starts ONE hub process (`tether serve --ephemeral --json`), runs every workload with
tether (`tether bench`) and every baseline against it, one program at a time (the runs
of a workload interleaved across its programs: A1 B1 A2 B2 ...), and prints the raw
figures, the ratios tether / baseline that the targets name, the commit, the CPU model and
the date. Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Workload:
    key: str
    title: str
    endpoint: str  # hub endpoint name
    flags: list[str]
    metric: str  # the figure the target is about
    higher_is_better: bool
    target: str
    extra: list[str] = field(default_factory=list)  # more figures shown
    programs: list[str] | None = None  # only these programs (None: every general one)
    program_flags: dict[str, list[str]] = field(default_factory=dict)  # per program, appended


#: Programs that only run the workloads naming them (platform SDKs; tether with
#: compression off, W7's baseline).
PLATFORM_ONLY = {"python-datadivr-sdk", "python-gather-sdk", "python-tether-datadivr",
                 "python-tether-gather", "tether-nodeflate"}
#: Programs that run only some workloads: tether's burst API (`--batch`: `send_all` and
#: `recv_many`) where a burst exists; with one message in flight (W2) or none (W4) it is
#: `tether` itself.
ONLY_IN = {"tether-batch": {"W1", "W3", "W5", "W5d"}, "tether-before-batch": {"W1", "W3", "W5"},
           "python-tether": {"W1"}}


#: tether's flags for compression off: W4 and W5 compare tether with clients that offer
#: no extension, as before issue 18; W4d, W5d and W7 negotiate permessage-deflate.
NO_DEFLATE = ["--compression", "off"]
DEFLATE = ["--compression", "on"]
#: W4 and W4d: after the idle figure, one message of this size (above the 1 KiB
#: threshold: compressed both ways when negotiated) and its echo on every connection.
IDLE_ECHO = ["--idle-echo", "--size", "2048"]


def golden_texts(root: Path) -> list[str]:
    """The JSON wire texts of the golden vectors (testdata/golden/out: real messages the
    platforms' SDKs and servers produced), in file order."""
    texts: list[str] = []

    def walk(x) -> None:
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str) and x[:1] in "{[":
            try:
                parsed = json.loads(x)
            except ValueError:
                return
            texts.append(x if "\n" not in x else json.dumps(parsed))

    for name in ("moobius", "datadivr", "happypandax"):
        walk(json.loads((root / "testdata" / "golden" / "out" / f"{name}.json").read_text()))
    return texts


def w7_messages(root: Path, min_size: int = 2048) -> list[str]:
    """W7's messages: JSON arrays of consecutive golden texts of at least `min_size`
    bytes (above the 1 KiB threshold), one starting at each golden text, so every
    message differs."""
    texts = golden_texts(root)
    out = []
    for start in range(len(texts)):
        parts, size, i = [], 2, start
        while size < min_size:
            t = texts[i % len(texts)]
            parts.append(t)
            size += len(t) + 2
            i += 1
        out.append("[" + ", ".join(parts) + "]")
    return out


def stateless_ratio(messages: list[str]) -> float:
    """Payload bytes / raw-deflate bytes with each message compressed alone (no context
    takeover): what compression is worth without the window of earlier messages."""
    import zlib
    total = packed = 0
    for m in messages:
        c = zlib.compressobj(wbits=-15)
        packed += len(c.compress(m.encode()) + c.flush(zlib.Z_SYNC_FLUSH)) - 4
        total += len(m.encode())
    return total / packed


def workloads(quick: bool, w7_file: str = "") -> list[Workload]:
    q = quick
    return [
        Workload("W1", "pipelined echo, 100 B, window 1000", "echo",
                 ["--messages", "20000" if q else "200000", "--size", "100", "--window", "1000"],
                 "msgs_per_s", True, "tether >= 1.5M msgs/s; >= 3x bare tws, >= 10x websockets, >= 4x picows",
                 ["cpu_s_per_100k", "p99_us", "client_cpu_pct", "writes_per_msg",
                  "server_cpu_pct", "server_cpu_s_per_100k", "server_writes_per_msg"]),
        Workload("W2", "sequential round trips, 100 B, window 1", "echo",
                 ["--messages", "2000" if q else "20000", "--size", "100", "--window", "1"],
                 "p50_us", False, "tether p50 <= 1.2x bare tws", ["p99_us"]),
        Workload("W3", "64 KiB binary echo, window 16", "echo",
                 ["--messages", "2000" if q else "20000", "--size", "65536", "--window", "16", "--binary"],
                 "mb_per_s", True, "tether >= 0.95x bare tws",
                 ["cpu_s_per_100k", "client_cpu_pct", "server_cpu_pct", "server_writes_per_msg"]),
        Workload("W4", "idle connections (tether: compression off)", "echo",
                 ["--idle", "1000" if q else "10000"],
                 "rss_kib_per_conn", False, "tether <= 12 KiB/conn and <= 1.3x bare tws",
                 ["rss_kib_per_conn_after_message", "seconds"],
                 program_flags={"tether": NO_DEFLATE + IDLE_ECHO}),
        Workload("W4d", "idle connections, permessage-deflate negotiated", "echo",
                 ["--idle", "1000" if q else "10000"] + DEFLATE + IDLE_ECHO,
                 "rss_kib_per_conn", False,
                 "tether <= 12 KiB/conn with deflate negotiated; after one compressed message each: stated",
                 ["rss_kib_per_conn_after_message", "deflate_connections", "seconds"],
                 programs=["tether"]),
        Workload("W5", "send-only into the sink, 32 B (tether: compression off)", "sink",
                 ["--send-only", "--messages", "100000" if q else "1000000", "--size", "32"],
                 "msgs_per_s", True, "tether >= 5M msgs/s",
                 ["cpu_s_per_100k", "client_cpu_pct", "writes_per_msg", "server_cpu_pct",
                  "server_cpu_s_per_100k"],
                 program_flags={"tether": NO_DEFLATE, "tether-batch": NO_DEFLATE}),
        Workload("W5d", "send-only into the sink, 32 B, deflate negotiated (below the threshold)",
                 "sink",
                 ["--send-only", "--messages", "100000" if q else "1000000", "--size", "32"] + DEFLATE,
                 "msgs_per_s", True, "tether within 5% of W5 (compression off)",
                 ["deflate_connections", "cpu_s_per_100k", "client_cpu_pct", "server_cpu_pct",
                  "server_cpu_s_per_100k"],
                 programs=["tether", "tether-batch"]),
        Workload("W7", "realistic JSON: golden messages in arrays of >= 2 KiB, echo, window 100",
                 "echo",
                 ["--messages", "2000" if q else "20000", "--window", "100",
                  "--messages-from", w7_file],
                 "wire_bytes_per_msg", False,
                 "compression on: >= 3x fewer wire bytes than off (tether-nodeflate)",
                 ["msgs_per_s", "payload_bytes_per_msg", "deflate_connections", "p50_us",
                  "cpu_s_per_100k", "server_cpu_s_per_100k"],
                 programs=["tether", "tether-nodeflate"],
                 program_flags={"tether": DEFLATE}),
        Workload("W6", "datadivr profile: sum_event round trips, window 100", "datadivr",
                 ["--messages", "10000" if q else "100000", "--window", "100"],
                 "msgs_per_s", True, "tether --profile datadivr >= 10x the datadivr Python SDK",
                 ["p50_us", "cpu_s_per_100k"],
                 programs=["tether", "python-datadivr-sdk", "python-tether-datadivr"],
                 program_flags={"tether": ["--profile", "datadivr"]}),
        Workload("W6g", "gather profile: set_text_status acked by transactionStatus, window 100",
                 "gather",
                 ["--messages", "10000" if q else "100000", "--window", "100"],
                 "msgs_per_s", True, "tether --profile gather >= 10x the Gather Python SDK",
                 ["p50_us", "cpu_s_per_100k"],
                 programs=["tether", "python-gather-sdk", "python-tether-gather"],
                 program_flags={"tether": ["--profile", "gather"]}),
    ]


@dataclass
class Program:
    name: str
    argv: list[str]  # before URL
    extra: list[str] = field(default_factory=list)  # after the contract flags


def programs(root: Path, python: str, tether: str, peers_python: str = "",
             before: str = "") -> list[Program]:
    bare = root / "target" / "release"
    py = root / "benches" / "python"
    # `--before PATH`: another `tether` binary (an earlier commit), measured beside this one.
    earlier = [Program("tether-before", [before, "bench"]),
               Program("tether-before-batch", [before, "bench"], ["--batch"])] if before else []
    return earlier + [
        Program("tether", [tether, "bench"]),
        Program("tether-batch", [tether, "bench"], ["--batch"]),
        Program("tether-nodeflate", [tether, "bench"], NO_DEFLATE),
        Program("bare-tokio-websockets", [str(bare / "bare-tokio-websockets")]),
        Program("bare-tokio-websockets-batch", [str(bare / "bare-tokio-websockets")], ["--batch"]),
        Program("bare-tungstenite", [str(bare / "bare-tungstenite")]),
        Program("python-websockets", [python, str(py / "bench_websockets.py")]),
        Program("python-aiohttp", [python, str(py / "bench_aiohttp.py")]),
        Program("python-picows", [python, str(py / "bench_picows.py")]),
        # tether's Python package (installed into the bench venv by scripts/bench.sh).
        Program("python-tether", [python, str(py / "bench_tether_py.py")]),
        Program("python-tether-datadivr", [python, str(py / "bench_datadivr_tether_py.py")]),
        Program("python-datadivr-sdk", [peers_python or "missing-peers-venv", str(py / "bench_datadivr_sdk.py")]),
        Program("python-gather-sdk", [peers_python or "missing-peers-venv", str(py / "bench_gather_sdk.py")]),
        Program("python-tether-gather", [python, str(py / "bench_gather_tether_py.py")]),
    ]


#: Ratios printed: (workload, figure, baseline[, program]) → program / baseline; the
#: program is `tether` unless named.
RATIOS = [
    ("W1", "msgs_per_s", "bare-tokio-websockets"),
    ("W1", "msgs_per_s", "bare-tokio-websockets-batch"),
    ("W1", "msgs_per_s", "bare-tokio-websockets", "tether-batch"),
    ("W1", "msgs_per_s", "bare-tokio-websockets-batch", "tether-batch"),
    ("W1", "msgs_per_s", "python-websockets"),
    ("W1", "msgs_per_s", "python-picows"),
    ("W1", "msgs_per_s", "python-picows", "python-tether"),
    ("W1", "msgs_per_s", "python-websockets", "python-tether"),
    ("W1", "cpu_s_per_100k", "python-picows", "python-tether"),
    ("W1", "cpu_s_per_100k", "bare-tokio-websockets"),
    ("W1", "cpu_s_per_100k", "bare-tokio-websockets", "tether-batch"),
    ("W2", "p50_us", "bare-tokio-websockets"),
    ("W3", "mb_per_s", "bare-tokio-websockets"),
    ("W4", "rss_kib_per_conn", "bare-tokio-websockets"),
    ("W4", "rss_kib_per_conn", "python-websockets"),
    ("W5", "msgs_per_s", "bare-tokio-websockets"),
    ("W5", "msgs_per_s", "bare-tokio-websockets-batch"),
    ("W5", "msgs_per_s", "bare-tokio-websockets-batch", "tether-batch"),
    ("W5", "msgs_per_s", "python-websockets"),
    ("W1", "msgs_per_s", "tether-before"),
    ("W1", "msgs_per_s", "tether-before-batch", "tether-batch"),
    ("W1", "cpu_s_per_100k", "tether-before"),
    ("W5", "msgs_per_s", "tether-before"),
    ("W5", "msgs_per_s", "tether-before-batch", "tether-batch"),
    ("W6", "msgs_per_s", "python-datadivr-sdk"),
    ("W6", "msgs_per_s", "python-datadivr-sdk", "python-tether-datadivr"),
    ("W6g", "msgs_per_s", "python-gather-sdk"),
    ("W6g", "msgs_per_s", "python-gather-sdk", "python-tether-gather"),
    # W7: compression off / on = how many times fewer wire bytes; on / off msgs/s.
    ("W7", "wire_bytes_per_msg", "tether", "tether-nodeflate"),
    ("W7", "msgs_per_s", "tether-nodeflate"),
]

#: Ratios between workloads of the same run: (workload, figure, baseline workload,
#: program) → program in workload / program in the baseline workload.
CROSS_RATIOS = [
    ("W5d", "msgs_per_s", "W5", "tether"),
    ("W5d", "msgs_per_s", "W5", "tether-batch"),
    ("W4d", "rss_kib_per_conn", "W4", "tether"),
    ("W4d", "rss_kib_per_conn_after_message", "W4", "tether"),
]


class Hub:
    """The echo server: `tether serve --ephemeral --json` as its own process."""

    def __init__(self, tether: str):
        self.proc = subprocess.Popen(
            [tether, "serve", "--ephemeral", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench: `tether serve` printed no endpoints")
        self.endpoints: dict[str, str] = json.loads(line)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def write_syscalls(self) -> int:
        with open(f"/proc/{self.proc.pid}/io") as f:
            for line in f:
                if line.startswith("syscw:"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_one(hub: Hub, prog: Program, w: Workload, timeout: float, clients: int = 1) -> dict:
    url = hub.endpoints[w.endpoint]
    argv = prog.argv + [url, "--clients", str(clients)] + w.flags + prog.extra + w.program_flags.get(prog.name, [])
    if "--send-only" in w.flags:
        argv += ["--control", hub.endpoints["control"]]
    argv.append("--json")
    cpu0, writes0, t0 = hub.cpu_seconds(), hub.write_syscalls(), time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return {"error": f"{argv[0]} not found"}
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.monotonic() - t0
    server_cpu = hub.cpu_seconds() - cpu0
    server_writes = hub.write_syscalls() - writes0
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    if done.returncode != 0 or not lines:
        if "unrecognized subcommand" in done.stderr:
            return {"error": f"`{' '.join(prog.argv)}` is not available in this build"}
        if "unexpected argument" in done.stderr:
            return {"error": f"not supported by this build: {done.stderr.strip().splitlines()[0][:120]}"}
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:160]}"}
    result = json.loads(lines[-1])
    result["server_cpu_s"] = round(server_cpu, 3)
    if result.get("messages"):
        # The hub's write syscalls per message (echo: per echoed message; includes a few
        # for the handshakes and the control API).
        result["server_writes_per_msg"] = round(server_writes / result["messages"], 3)
        result["server_cpu_s_per_100k"] = round(server_cpu * 100_000 / result["messages"], 4)
    busy = result.get("seconds") or wall
    # Share of one core the hub used while the client measured (all its threads).
    result["server_cpu_pct"] = round(100 * server_cpu / busy, 1) if busy else None
    cpu100k, n = result.get("cpu_s_per_100k"), result.get("messages")
    if cpu100k is not None and n and result.get("seconds"):
        # Share of one core the client used (all its threads) over its measured time.
        result["client_cpu_pct"] = round(100 * cpu100k * n / 100_000 / result["seconds"], 1)
    if result.get("messages") and "payload_bytes_out" in result:
        # Payload both ways per message (W7: the message and its echo).
        result["payload_bytes_per_msg"] = round(
            (result["payload_bytes_out"] + result["payload_bytes_in"]) / result["messages"], 1)
    result["wall_s"] = round(wall, 2)
    return result


def median_of(results: list[dict], key: str):
    vals = [r[key] for r in results if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None


def spread(results: list[dict], key: str):
    """(max - min) / median of a figure over the runs, in percent."""
    vals = [r[key] for r in results if isinstance(r.get(key), (int, float))]
    if len(vals) < 2 or not statistics.median(vals):
        return None
    return 100 * (max(vals) - min(vals)) / statistics.median(vals)


def fmt(v, key: str = "") -> str:
    if v is None:
        return "-"
    if key.endswith("_pct"):
        return f"{v:.0f}%"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.2f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f}k"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release()}


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small counts (smoke run)")
    ap.add_argument("--json", action="store_true", help="print the whole result as JSON")
    ap.add_argument("--runs", type=int, default=1, help="runs of each cell; figures are medians")
    ap.add_argument("--only", default="", help="comma-separated workloads (e.g. W1,W2)")
    ap.add_argument("--programs", default="", help="comma-separated program names")
    ap.add_argument("--root", required=True)
    ap.add_argument("--python", required=True, help="the venv's python")
    ap.add_argument("--tether", required=True)
    ap.add_argument("--hub", default="",
                    help="the `tether` binary whose `serve` is the echo server (default: --tether)")
    ap.add_argument("--peers-python", default="", help="python of the platforms' SDK venv (W6)")
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--before", default="",
                    help="another tether binary (an earlier commit) measured in the same run")
    ap.add_argument("--save", default="", help="also write the JSON result to this file")
    ap.add_argument("--priority", type=int, default=None,
                    help="nice value for the hub and every client (e.g. -10 on a busy machine; needs root)")
    a = ap.parse_args()
    if a.priority is not None:
        os.setpriority(os.PRIO_PROCESS, 0, a.priority)  # inherited by the hub and the clients

    root = Path(a.root)
    w7 = w7_messages(root)
    w7_file = Path(tempfile.mkdtemp(prefix="tether-bench-")) / "w7-messages.jsonl"
    w7_file.write_text("\n".join(w7) + "\n")
    ws = [w for w in workloads(a.quick, str(w7_file)) if not a.only or w.key in a.only.split(",")]
    progs = [p for p in programs(root, a.python, a.tether, a.peers_python, a.before)
             if not a.programs or p.name in a.programs.split(",")]
    timeout = 180 if a.quick else 900
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    hub = Hub(a.hub or a.tether)
    cells: dict[str, dict[str, list[dict]]] = {}
    server_check: list[dict] = []
    log = sys.stderr
    try:
        for w in ws:
            cells[w.key] = {}
            active = [p for p in progs
                      if not ((p.name not in w.programs) if w.programs else (p.name in PLATFORM_ONLY))
                      and not (p.name in ONLY_IN and w.key not in ONLY_IN[p.name])]
            for p in active:
                cells[w.key][p.name] = []
            # Runs interleave across programs (A1 B1 A2 B2 ...): when the machine's pace
            # changes (a shared host), it changes for every program of the workload alike,
            # so the ratios measured in the same run stay fair.
            for i in range(a.runs):
                for p in active:
                    runs = cells[w.key][p.name]
                    if runs and "error" in runs[-1]:
                        continue
                    print(f"bench: {w.key} {p.name} run {i + 1}/{a.runs} ...", file=log, flush=True)
                    r = run_one(hub, p, w, timeout)
                    runs.append(r)
                    if "error" in r:
                        print(f"bench:   {r['error']}", file=log, flush=True)
                    time.sleep(1.0 if w.key.startswith("W4") else 0.2)
        # Is the echo server the bottleneck? Two batched clients at once (W1 flags).
        w1 = next((w for w in ws if w.key == "W1"), None)
        batch = next((p for p in programs(root, a.python, a.tether) if p.name == "bare-tokio-websockets-batch"), None)
        if w1 and batch:
            for clients in (1, 2):
                print(f"bench: server check, {clients} batched client(s) ...", file=log, flush=True)
                r = run_one(hub, batch, w1, timeout, clients=clients)
                r["clients"] = clients
                server_check.append(r)
    finally:
        hub.stop()

    result = {
        "commit": a.commit,
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "loadavg_1_5_15": {"before": [round(x, 2) for x in load_before],
                           "after": [round(x, 2) for x in os.getloadavg()]},
        "quick": a.quick,
        "runs": a.runs,
        "hub": a.hub or a.tether,
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "workloads": {w.key: {"title": w.title, "flags": w.flags, "metric": w.metric, "target": w.target} for w in ws},
        "results": cells,
        "server_check": server_check,
    }
    ratios = []
    for key, metric, base, *program in RATIOS:
        if key not in cells or (base.startswith("tether-before") and base not in cells[key]):
            continue
        ours = program[0] if program else "tether"
        t = median_of(cells[key].get(ours, []), metric)
        b = median_of(cells[key].get(base, []), metric)
        ratios.append({"workload": key, "figure": metric, "baseline": base, "program": ours,
                       "tether": t, "base": b,
                       "ratio": round(t / b, 3) if t is not None and b else None})
    for key, metric, base_key, prog in CROSS_RATIOS:
        if key not in cells or base_key not in cells:
            continue
        t = median_of(cells[key].get(prog, []), metric)
        b = median_of(cells[base_key].get(prog, []), metric)
        ratios.append({"workload": key, "figure": metric, "baseline": f"{base_key} {prog}",
                       "program": prog, "tether": t, "base": b,
                       "ratio": round(t / b, 3) if t is not None and b else None})
    result["ratios"] = ratios
    if "W7" in cells:
        sizes = [len(m.encode()) for m in w7]
        result["w7_messages"] = {"distinct": len(w7), "mean_bytes": round(statistics.mean(sizes)),
                                 "stateless_deflate_ratio": round(stateless_ratio(w7), 2)}
    text = json.dumps(result, indent=1)
    if a.save:
        Path(a.save).parent.mkdir(parents=True, exist_ok=True)
        Path(a.save).write_text(text + "\n")
    if a.json:
        print(text)
        return 0

    m = result["machine"]
    print(f"tether benchmark suite  commit {a.commit}  {result['date']}")
    print(f"machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}"
          f"{'  (QUICK: small counts)' if a.quick else ''}  runs per cell: {a.runs} (median)"
          f"  nice {result['nice']}")
    if a.hub:
        print(f"echo server: `{a.hub} serve` (not this build's)")
    la = result["loadavg_1_5_15"]
    print(f"load average (1/5/15 min) before: {la['before']}  after: {la['after']}"
          "  (other work on the machine competes for the 2 cores)")
    print()
    names = [p.name for p in progs]
    figures = []
    for w in ws:
        for metric in [w.metric] + w.extra:
            figures.append((w, metric))
    rows = [["workload", "figure"] + names]
    for w, metric in figures:
        rows.append([f"{w.key} {w.title}" if metric == w.metric else "", metric]
                    + [fmt(median_of(cells[w.key].get(n, []), metric), metric) if not _failed(cells[w.key].get(n)) else "FAIL"
                       for n in names])
    print(_table_with_label(rows))
    if a.runs > 1:
        print()
        vrows = [["spread between runs, (max - min) / median", "figure"] + names]
        for w in ws:
            vrows.append([w.key, w.metric] + [fmt(spread(cells[w.key].get(n, []), w.metric), "_pct") for n in names])
        print(table(vrows))
    failed = [(k, n, runs[-1]["error"]) for k, byp in cells.items() for n, runs in byp.items() if _failed(runs)]
    if failed:
        print()
        for k, n, e in failed:
            print(f"  {k} {n}: {e}")
    print()
    rrows = [["ratio tether / baseline", "tether", "baseline", "ratio"]]
    for r in ratios:
        rrows.append([f"{r['workload']} {r['figure']}{'' if r['program'] == 'tether' else ' ' + r['program']} vs {r['baseline']}",
                      fmt(r["tether"]), fmt(r["base"]),
                      "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"])
    print(table(rrows))
    print()
    if "w7_messages" in result:
        m7 = result["w7_messages"]
        print(f"W7 messages: {m7['distinct']} distinct, {m7['mean_bytes']} B on average; each "
              f"deflated alone (no context takeover) {m7['stateless_deflate_ratio']:.2f}x smaller")
        print()
    print("targets:")
    for w in ws:
        print(f"  {w.key}: {w.target}")
    if server_check:
        print()
        print("echo server check (W1 flags, bare-tokio-websockets-batch, same hub):")
        for r in server_check:
            if "error" in r:
                print(f"  {r['clients']} client(s): {r['error']}")
            else:
                print(f"  {r['clients']} client(s): {fmt(r['msgs_per_s'])} msgs/s in all, "
                      f"hub CPU {fmt(r['server_cpu_pct'], '_pct')} of one core, "
                      f"{fmt(r.get('server_cpu_s_per_100k'))} hub CPU s per 100k, "
                      f"{fmt(r.get('server_writes_per_msg'))} hub write syscalls per message "
                      f"(client: {fmt(r.get('writes_per_msg'))})")
    return 0


def _failed(runs) -> bool:
    return bool(runs) and "error" in runs[-1]


def _table_with_label(rows: list[list[str]]) -> str:
    return table(rows)


if __name__ == "__main__":
    sys.exit(main())
