#!/usr/bin/env python3
"""bench/summarize.py RESULTS.jsonl: Markdown tables (one per backend) from a
bench/run-all result file, with each append row's ratio to the raw database
ceiling measured in the same run (same writers, batch and durability).

When a configuration was measured in several rounds (run-all interleaves raw
ceiling and append rounds for the target rows), the k-th append result is
compared with the k-th raw result of the same configuration, the table shows
the round with the median ratio, and the notes list every round's ratio.

NATS rows get one table per replica count ("nats, replicas 3"): the raw
ceiling is raw-nats with one shared connection, and raw-nats with one
connection per writer is the second raw loop of the notes (as the SQLite loop
with the store's indexes is). When both NATS and PostgreSQL rows are present,
a side-by-side table of their appends, read-all and tail latency follows."""
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


def second_raw(r):
    """The second raw loop of a configuration: SQLite with the store's two
    unique indexes, NATS with one connection per writer."""
    return r.get("indexes", "none") != "none" or r.get("connections", "shared") != "shared"


def second_raw_name(backend):
    return "one connection per writer" if backend.startswith("nats") else "the store's two unique indexes"


def main(path, note=""):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    for r in rows:
        if r["backend"] == "nats":  # one table per replica count
            r["backend"] = f"nats, replicas {r.get('replicas', 1)}"
    # Results per configuration, in run order (one per round).
    raw, raw_indexed, appends = {}, {}, {}
    for r in rows:
        key = (r["backend"], r["writers"], r["batch"], r["durability"])
        if r["workload"] == "raw-read-ceiling":
            continue  # a read ceiling: carried by its read-all row (ratio_to_raw)
        if r["workload"].startswith("raw-"):
            if not second_raw(r):
                raw.setdefault(key, []).append(r)
            else:  # raw-sqlite --raw-indexes, raw-nats --raw-connections per-writer
                raw_indexed.setdefault(key, []).append(r)
        elif r["workload"] == "append":  # pipelined appends (--in-flight K) are rows of their own
            appends.setdefault(key + (r.get("in_flight", 1),), []).append(r)

    def rounds(key):
        """[(append, raw or None, raw_indexed or None)] per round of `key`."""
        out = []
        for k, a in enumerate(appends.get(key, [])):
            c = raw.get(key[:4], [])
            ci = raw_indexed.get(key[:4], [])
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
    backends = ["memory", "sqlite", "postgres"]
    backends += sorted({r["backend"] for r in rows} - set(backends))
    for backend in backends:
        mine = [r for r in rows if r["backend"] == backend]
        if not mine:
            continue
        print(f"### {backend}\n")
        print("| workload | writers | batch | durability | events/s | p50 µs | p99 µs | p999 µs | raw ceiling events/s | ratio to raw | notes |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        printed = set()
        for r in mine:
            if r["workload"] in ("load", "commands", "raw-read-ceiling") or second_raw(r):
                continue
            key = (backend, r["writers"], r["batch"], r["durability"], r.get("in_flight", 1))
            if r["workload"] == "append" or r["workload"].startswith("raw-"):
                if (r["workload"], key) in printed:
                    continue  # one row per configuration: the median round
                printed.add((r["workload"], key))
            ceiling, ratio, notes = "", "", []
            if r["workload"] == "read-all" and "ratio_to_raw" in r:  # read-all --vs-raw: the median round
                if ("read-all-vs-raw", r["events"]) in printed:
                    continue
                printed.add(("read-all-vs-raw", r["events"]))
                same = [x for x in mine if x["workload"] == "read-all" and "ratio_to_raw" in x
                        and x["events"] == r["events"]]
                r = sorted(same, key=lambda x: x["ratio_to_raw"])[(len(same) - 1) // 2]
                ceiling = fmt(r["raw_ceiling_events_per_sec"])
                ratio = f"**{r['ratio_to_raw']:.2f}x**"
                notes.append(f"{len(same)} interleaved rounds (raw read loop, then ReadAll), ratio per round "
                             + ", ".join(f"{x['ratio_to_raw']:.2f}x" for x in same) + " (median shown)")
            if r["workload"].startswith("raw-") and appends.get(key):  # raw rows: in_flight 1
                r = (shown(key)[1] or r)
            if r["workload"] == "append":
                r, c, ci = shown(key)
                if c:
                    ceiling = fmt(c["events_per_sec"])
                    ratio = f"**{r['events_per_sec'] / c['events_per_sec']:.2f}x**"
                ci_text = ""
                if ci:
                    ci_text = (f"raw loop with {second_raw_name(backend)}: {fmt(ci['events_per_sec'])} events/s, "
                               f"ratio {r['events_per_sec'] / ci['events_per_sec']:.2f}x")
                all_rounds = [x for x in rounds(key) if x[1]]
                if len(all_rounds) > 1:
                    ratios = [x[0]["events_per_sec"] / x[1]["events_per_sec"] for x in all_rounds]
                    notes.append(f"{len(all_rounds)} interleaved rounds (raw, then append), ratio per round "
                                 + ", ".join(f"{x:.2f}x" for x in ratios)
                                 + f" (median {statistics.median(ratios):.2f}x, shown)")
                    indexed = [x[0]["events_per_sec"] / x[2]["events_per_sec"] for x in all_rounds if x[2]]
                    if indexed:
                        notes.append(f"ratio to the raw loop with {second_raw_name(backend)} per round "
                                     + ", ".join(f"{x:.2f}x" for x in indexed)
                                     + (f" (shown round: {fmt(ci['events_per_sec'])} events/s)"
                                        if backend.startswith("nats") and ci else ""))
                elif ci_text:
                    notes.append(ci_text)
            if r["workload"] == "tail-latency":
                notes.append(f"{r['rate']} appends/s, wake: {r['wake']}, append->read p50/p99 {fmt(r['append_to_read_p50_us'])}/{fmt(r['append_to_read_p99_us'])} µs")
                if 'commit_to_handler_p50_us' in r:
                    notes.append(f"Processor handler: commit->handler p50/p99 {fmt(r['commit_to_handler_p50_us'])}/{fmt(r['commit_to_handler_p99_us'])} µs")
            if "setup_batch" in r:
                notes.append(f"events written (untimed) in appends of {r['setup_batch']}")
            if r.get("conflicts"):
                notes.append(f"{r['conflicts']} conflicts")
            notes.append(f"latency of {r['latency_of']}; {r['events']} events")
            label = r["workload"] + (f" ({r['in_flight']} in flight)" if r.get("in_flight", 1) > 1 else "")
            print(f"| {label} | {r['writers']} | {r['batch']} | {r['durability']} | {fmt(r['events_per_sec'])} | "
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

    natses = [b for b in backends if b.startswith("nats")]
    if natses and any(r["backend"] == "postgres" for r in rows):
        print("### NATS JetStream and PostgreSQL side by side (this run)\n")
        print("Appends: the round shown in the tables above (batch 1); raw = the database's own synchronous "
              "loop with the same writers (NATS 8 writers: one shared connection / one connection per writer).\n")
        print("| store | 1 writer events/s | p99 µs | raw, 1 writer | 8 writers events/s | p99 µs | raw, 8 writers |")
        print("|---|---|---|---|---|---|---|")
        stores = [(f"NATS JetStream, {b[len('nats, '):]}", b, "strict") for b in natses]
        stores += [("PostgreSQL, synchronous_commit on", "postgres", "strict"),
                   ("PostgreSQL, synchronous_commit off", "postgres", "relaxed")]
        for label, backend, durability in stores:
            cells = []
            for w in (1, 8):
                x = shown((backend, w, 1, durability))
                if not x:
                    cells += ["", "", ""]
                    continue
                a, c, ci = x
                ceiling = fmt(c["events_per_sec"]) if c else ""
                if ci and backend.startswith("nats"):
                    ceiling += f" / {fmt(ci['events_per_sec'])}"
                cells += [fmt(a["events_per_sec"]), f"{a['p99_us']:,.0f}", ceiling]
            if any(cells):
                print(f"| {label} | " + " | ".join(cells) + " |")
        print()
        print("| store | read-all events/s | tail: commit -> read p50 / p99 µs | append -> read p50 / p99 µs "
              "| commit -> Processor handler p50 / p99 µs | wake |")
        print("|---|---|---|---|---|---|")
        for label, backend, durability in stores[:-1]:
            read_all = [r for r in rows if r["backend"] == backend and r["workload"] == "read-all"]
            tail = [r for r in rows if r["backend"] == backend and r["workload"] == "tail-latency"]
            ra = "; ".join(fmt(x["events_per_sec"]) + f" ({x['events']} events written in appends of "
                           f"{x.get('setup_batch', 100)})" for x in read_all)
            t = tail[0] if tail else None
            print(f"| {label} | {ra} | "
                  + (f"{fmt(t['p50_us'])} / {fmt(t['p99_us'])} | {fmt(t['append_to_read_p50_us'])} / "
                     f"{fmt(t['append_to_read_p99_us'])} | {fmt(t['commit_to_handler_p50_us'])} / "
                     f"{fmt(t['commit_to_handler_p99_us'])} | {t['wake']} |" if t else " | | | |"))
        print()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
