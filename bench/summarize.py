#!/usr/bin/env python3
"""bench/summarize.py RESULTS.jsonl: Markdown tables (one per backend) from a
bench/run-all result file, with each append row's ratio to the raw database
ceiling measured in the same run (same writers, batch and durability).

When a configuration was measured in several rounds (run-all interleaves raw
ceiling and append rounds for the target rows), the k-th append result is
compared with the k-th raw result of the same configuration, the table shows
the round with the median ratio, and the notes list every round's ratio."""
import json
import statistics
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
    # Results per configuration, in run order (one per round).
    raw, raw_indexed, appends = {}, {}, {}
    for r in rows:
        key = (r["backend"], r["writers"], r["batch"], r["durability"])
        if r["workload"].startswith("raw-"):
            if r.get("indexes", "none") == "none":
                raw.setdefault(key, []).append(r)
            else:  # raw-sqlite --raw-indexes: the same table with the store's two unique indexes
                raw_indexed.setdefault(key, []).append(r)
        elif r["workload"] == "append":
            appends.setdefault(key, []).append(r)

    def rounds(key):
        """[(append, raw or None, raw_indexed or None)] per round of `key`."""
        out = []
        for k, a in enumerate(appends.get(key, [])):
            c = raw.get(key, [])
            ci = raw_indexed.get(key, [])
            out.append((a, c[k] if k < len(c) else None, ci[k] if k < len(ci) else None))
        return out

    def shown(key):
        """The round shown in the table: the one with the median ratio to raw."""
        rs = rounds(key)
        with_raw = [x for x in rs if x[1]]
        if len(with_raw) < 2:
            return rs[0] if rs else None
        with_raw.sort(key=lambda x: x[0]["events_per_sec"] / x[1]["events_per_sec"])
        return with_raw[(len(with_raw) - 1) // 2]
    print(f"Run: `{os.path.basename(path)}` on {machine()}" + (f"; {note}" if note else "") + "\n")
    for backend in ("memory", "sqlite", "postgres"):
        mine = [r for r in rows if r["backend"] == backend]
        if not mine:
            continue
        print(f"### {backend}\n")
        print("| workload | writers | batch | durability | events/s | p50 µs | p99 µs | p999 µs | raw ceiling events/s | ratio to raw | notes |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        printed = set()
        for r in mine:
            if r["workload"] in ("load", "commands") or r.get("indexes", "none") != "none":
                continue
            key = (backend, r["writers"], r["batch"], r["durability"])
            if r["workload"] in ("append", "raw-sqlite", "raw-pgbench"):
                if (r["workload"], key) in printed:
                    continue  # one row per configuration: the median round
                printed.add((r["workload"], key))
            ceiling, ratio, notes = "", "", []
            if r["workload"].startswith("raw-") and appends.get(key):
                r = (shown(key)[1] or r)
            if r["workload"] == "append":
                r, c, ci = shown(key)
                if c:
                    ceiling = fmt(c["events_per_sec"])
                    ratio = f"**{r['events_per_sec'] / c['events_per_sec']:.2f}x**"
                ci_text = ""
                if ci:
                    ci_text = (f"raw loop with the store's two unique indexes: {fmt(ci['events_per_sec'])} events/s, "
                               f"ratio {r['events_per_sec'] / ci['events_per_sec']:.2f}x")
                all_rounds = [x for x in rounds(key) if x[1]]
                if len(all_rounds) > 1:
                    ratios = [x[0]["events_per_sec"] / x[1]["events_per_sec"] for x in all_rounds]
                    notes.append(f"{len(all_rounds)} interleaved rounds (raw, then append), ratio per round "
                                 + ", ".join(f"{x:.2f}x" for x in ratios)
                                 + f" (median {statistics.median(ratios):.2f}x, shown)")
                    indexed = [x[0]["events_per_sec"] / x[2]["events_per_sec"] for x in all_rounds if x[2]]
                    if indexed:
                        notes.append("ratio to the raw loop with the store's two unique indexes per round "
                                     + ", ".join(f"{x:.2f}x" for x in indexed))
                elif ci_text:
                    notes.append(ci_text)
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
        commands = [r for r in mine if r["workload"] == "commands"]
        if commands:
            print(f"Commands ({backend}, `commands` workload): deposits through load-decide-save-retry (old) and "
                  "CommandExecutor, interleaved rounds; the round with the median ratio is shown\n")
            print("| aggregates | writers | durability | old commands/s | old p99 µs | executor commands/s | executor p99 µs "
                  "| commands per append | ratio (median) | ratio per round |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for key in sorted({(r["aggregates"], r["writers"], r["durability"]) for r in commands}):
                same = [r for r in commands if (r["aggregates"], r["writers"], r["durability"]) == key]
                pairs = list(zip([r for r in same if r["path"] == "old"], [r for r in same if r["path"] == "executor"]))
                pairs.sort(key=lambda p: p[1]["ratio_to_old"])
                o, e = pairs[(len(pairs) - 1) // 2]
                ratios = ", ".join(f"{p[1]['ratio_to_old']:.1f}x" for p in sorted(pairs, key=lambda p: p[1]["round"]))
                print(f"| {key[0]:,} | {key[1]} | {key[2]} | {fmt(o['commands_per_sec'])} | {o['p99_us']:,.0f} | "
                      f"{fmt(e['commands_per_sec'])} | {e['p99_us']:,.0f} | {e['commands_per_append']:.1f} | "
                      f"**{e['ratio_to_old']:.1f}x** | {ratios} |")
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
