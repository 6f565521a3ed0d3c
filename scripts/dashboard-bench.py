#!/usr/bin/env python3
"""What the dashboard costs the hub (issue 19): W1 pipelined echo (`tether bench --size
100 --window 1000`, for --duration seconds instead of W1's 200,000 messages, which take
~0.15 s here: too short for a page's once-a-second updates, or for /proc's CPU ticks)
against hubs started for each cell, in ONE run, cells interleaved round by round:

  base      a hub without the dashboard's instrumentation (--base: another `tether`
            binary, e.g. a release build of main; skipped without it)
  no-page   this hub, no page open
  page      this hub with a page open: an SSE client reading /events (a snapshot then a
            delta a second, every connection's last messages included)

Reports per cell the median msgs/s and the hub's CPU seconds per 100k echoes (utime +
stime of the hub process, /proc/PID/stat), and each cell against the reference (base if
given, else no-page).

Usage: scripts/dashboard-bench.py --tether target/release/tether [--base PATH]
       [--rounds 5] [--duration 5] [--batch] [--json]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

W1 = ["--size", "100", "--window", "1000"]
TICKS = os.sysconf("SC_CLK_TCK")


def hub_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def start_hub(binary):
    hub = subprocess.Popen([binary, "serve", "--ephemeral", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    urls = json.loads(hub.stdout.readline())
    return hub, urls


class Page:
    """An SSE client on /events, reading everything the hub sends, like an open page."""

    def __init__(self, control):
        self.response = urllib.request.urlopen(f"{control}/events", timeout=30)
        self.events = 0
        self.bytes = 0
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        try:
            for line in self.response:
                self.bytes += len(line)
                if line.startswith(b"event:"):
                    self.events += 1
        except Exception:
            pass

    def close(self):
        try:
            self.response.close()
        except Exception:
            pass


def cell(tether, hub_binary, page, batch, duration):
    hub, urls = start_hub(hub_binary)
    sse = None
    try:
        if page:
            sse = Page(urls["control"])
            time.sleep(1.2)  # the first snapshot and a tick have been sent
        cpu0 = hub_cpu(hub.pid)
        args = [tether, "bench", "--json", *W1, "--duration", str(duration),
                *(["--batch"] if batch else []), urls["echo"]]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        cpu = hub_cpu(hub.pid) - cpu0
        report = json.loads(out)
        result = {
            "msgs_per_s": report["msgs_per_s"],
            "hub_cpu_s_per_100k": cpu / (report["messages"] / 100_000),
        }
        if sse is not None:
            result["sse_events"] = sse.events
            result["sse_bytes"] = sse.bytes
            if sse.events < 2:
                raise RuntimeError(f"the page got {sse.events} events: it was not open")
        return result
    finally:
        if sse is not None:
            sse.close()
        hub.send_signal(signal.SIGINT)
        try:
            hub.wait(timeout=10)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tether", required=True, help="this branch's tether (client and hub)")
    parser.add_argument("--base", help="a tether without the dashboard, for the base cell")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", action="store_true", help="tether bench --batch")
    parser.add_argument("--duration", type=float, default=5, help="seconds per cell")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cells = ([("base", args.base, False)] if args.base else []) + [
        ("no-page", args.tether, False),
        ("page", args.tether, True),
    ]
    runs = {name: [] for name, _, _ in cells}
    for r in range(args.rounds):
        # Rotate the order each round, so no cell always runs first.
        order = cells[r % len(cells):] + cells[:r % len(cells)]
        for name, binary, page in order:
            result = cell(args.tether, binary, page, args.batch, args.duration)
            runs[name].append(result)
            print(f"round {r + 1} {name:8} {result['msgs_per_s'] / 1e3:8.0f}k msgs/s  "
                  f"hub {result['hub_cpu_s_per_100k']:.4f} s CPU/100k", file=sys.stderr)

    ref = "base" if args.base else "no-page"
    summary = {}
    for name in runs:
        rate = statistics.median(x["msgs_per_s"] for x in runs[name])
        cpu = statistics.median(x["hub_cpu_s_per_100k"] for x in runs[name])
        summary[name] = {"msgs_per_s": rate, "hub_cpu_s_per_100k": cpu}
    for name, s in summary.items():
        s["msgs_per_s_vs_" + ref] = s["msgs_per_s"] / summary[ref]["msgs_per_s"] - 1
        s["hub_cpu_vs_" + ref] = s["hub_cpu_s_per_100k"] / summary[ref]["hub_cpu_s_per_100k"] - 1
    if args.json:
        print(json.dumps({"w1": W1, "duration": args.duration, "batch": args.batch, "rounds": args.rounds,
                          "runs": runs, "summary": summary}, indent=1))
        return
    print(f"W1 {' '.join(W1)} --duration {args.duration:g}{' --batch' if args.batch else ''}, "
          f"{args.rounds} rounds, medians; vs {ref}")
    print(f"{'cell':8} {'msgs/s':>10} {'vs ' + ref:>11} {'hub CPU s/100k':>15} {'vs ' + ref:>11}")
    for name, s in summary.items():
        print(f"{name:8} {s['msgs_per_s'] / 1e3:9.0f}k {s['msgs_per_s_vs_' + ref]:+10.1%} "
              f"{s['hub_cpu_s_per_100k']:15.4f} {s['hub_cpu_vs_' + ref]:+10.1%}")


if __name__ == "__main__":
    main()
