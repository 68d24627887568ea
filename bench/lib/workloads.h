// estoria bench: the benchmark workloads run through the public store API
// (stores are opened with OpenEventStore, so every built backend is covered).
//   append        writers x streams x events, batch, payload, expectation check on
//   read-stream   read and fold many streams with N reader threads
//   read-all      scan the global log
//   project       rebuild a read model (balances per stream) by folding ReadAll
//   tail-latency  append at a steady rate; time until a subscriber woken by
//                 AppendWatcher (or polling) has read the event
// Raw database ceilings are in raw_ceiling.h, aggregate load in load_workload.h.
//
// Thread safety: each Run* call is independent; they spawn their own threads.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "bench_options.h"
#include "estoria/event_store.h"

namespace estoria::bench {

// The store URI with the durability mode applied (backend-specific parameter).
std::string UriWithDurability(const std::string& uri, const std::string& durability);
// Opens o.store with o.durability.
Result<std::shared_ptr<EventStore>> OpenBenchStore(const BenchOptions& o);
// A JSON event of the given type (no id, no metadata).
WritableEvent MakeEvent(const std::string& type, std::string data);
// A JSON payload of about `bytes` bytes.
std::string MakePayload(int bytes, int64_t n);
// n new stream ids of type "bench".
std::vector<TypeId> NewStreams(int n);
// Writes `events` events spread round-robin over `streams` (untimed set-up of
// the read workloads), in appends of up to `per_append` events. Returns the
// head position before writing (0 for stores without a GlobalReader).
Result<int64_t> Populate(EventStore& store, const std::vector<TypeId>& streams, int64_t events, int payload,
                         int per_append);
// One timed ReadAll scan of `count` events after position `after`, summing the
// payload sizes (the timed part of read-all). Internal when fewer are read.
Result<BenchResult> ScanReadAll(const BenchOptions& o, GlobalReader& reader, int64_t after, int64_t count);

// A store's pipelined append (queue, then a future of the result), for
// `append --in-flight K`; empty when the store has none.
using PipelinedAppend = std::function<std::future<Result<std::vector<Event>>>(const TypeId&, std::vector<WritableEvent>,
                                                                              const AppendOptions&)>;

Result<BenchResult> RunAppend(const BenchOptions& o);
Result<BenchResult> RunReadStream(const BenchOptions& o);
Result<BenchResult> RunReadAll(const BenchOptions& o);
Result<BenchResult> RunProject(const BenchOptions& o);
Result<BenchResult> RunTailLatency(const BenchOptions& o);
// Resident memory held by the store: one writer appends --events events of
// --payload bytes in appends of --batch over --streams streams; VmRSS is read
// from /proc/self/status before and after (freed heap returned with
// malloc_trim first). Reports bytes_per_event and the append rate.
Result<BenchResult> RunFootprint(const BenchOptions& o);

}  // namespace estoria::bench
