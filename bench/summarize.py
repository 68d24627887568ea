#!/usr/bin/env python3
"""bench/summarize.py RESULTS.jsonl: Markdown tables (one per backend) from a
bench/run-all result file, with each append row's ratio to the raw database
ceiling measured in the same run (same writers, batch and durability)."""
import json
import os
import platform
import subprocess
import sys


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc {subprocess.getoutput('nproc')}), {cpu}, {platform.system()} {platform.release()}"


def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def main(path, note=""):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    raw, raw_indexed = {}, {}
    for r in rows:
        if r["workload"].startswith("raw-"):
            key = (r["backend"], r["writers"], r["batch"], r["durability"])
            if r.get("indexes", "none") == "none":
                raw[key] = r
            else:  # raw-sqlite --raw-indexes: the same table with the store's two unique indexes
                raw_indexed[key] = r
    print(f"Run: `{os.path.basename(path)}` on {machine()}" + (f"; {note}" if note else "") + "\n")
    for backend in ("memory", "sqlite", "postgres"):
        mine = [r for r in rows if r["backend"] == backend]
        if not mine:
            continue
        print(f"### {backend}\n")
        print("| workload | writers | batch | durability | events/s | p50 µs | p99 µs | p999 µs | raw ceiling events/s | ratio to raw | notes |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in mine:
            if r["workload"] == "load" or r.get("indexes", "none") != "none":
                continue
            ceiling, ratio, notes = "", "", []
            if r["workload"] == "append":
                c = raw.get((backend, r["writers"], r["batch"], r["durability"]))
                if c:
                    ceiling = fmt(c["events_per_sec"])
                    ratio = f"**{r['events_per_sec'] / c['events_per_sec']:.2f}x**"
                ci = raw_indexed.get((backend, r["writers"], r["batch"], r["durability"]))
                if ci:
                    notes.append(f"raw loop with the store's two unique indexes: {fmt(ci['events_per_sec'])} events/s, "
                                 f"ratio {r['events_per_sec'] / ci['events_per_sec']:.2f}x")
            if r["workload"] == "tail-latency":
                notes.append(f"{r['rate']} appends/s, wake: {r['wake']}, append->read p50/p99 {fmt(r['append_to_read_p50_us'])}/{fmt(r['append_to_read_p99_us'])} µs")
                if 'commit_to_handler_p50_us' in r:
                    notes.append(f"Processor handler: commit->handler p50/p99 {fmt(r['commit_to_handler_p50_us'])}/{fmt(r['commit_to_handler_p99_us'])} µs")
            if r.get("conflicts"):
                notes.append(f"{r['conflicts']} conflicts")
            notes.append(f"latency of {r['latency_of']}; {r['events']} events")
            print(f"| {r['workload']} | {r['writers']} | {r['batch']} | {r['durability']} | {fmt(r['events_per_sec'])} | "
                  f"{r['p50_us']:.1f} | {r['p99_us']:.1f} | {r['p999_us']:.1f} | {ceiling} | {ratio} | {'; '.join(notes)} |")
        print()
        loads = [r for r in mine if r["workload"] == "load"]
        if loads:
            every = loads[0]["snapshot_every"]
            print(f"Aggregate load ({backend}, `load` workload): time of one `Load` against history length\n")
            print(f"| history (events) | without snapshots: loads/s | p50 µs | p99 µs | with snapshots (every {every}): loads/s | p50 µs | p99 µs | speed-up (p50) |")
            print("|---|---|---|---|---|---|---|---|")
            for h in sorted({r["history"] for r in loads}):
                a = [r for r in loads if r["history"] == h and not r["snapshots"]][0]
                b = [r for r in loads if r["history"] == h and r["snapshots"]][0]
                print(f"| {h:,} | {fmt(a['loads_per_sec'])} | {a['p50_us']:.1f} | {a['p99_us']:.1f} | {fmt(b['loads_per_sec'])} | "
                      f"{b['p50_us']:.1f} | {b['p99_us']:.1f} | {a['p50_us'] / b['p50_us']:.1f}x |")
            print()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
