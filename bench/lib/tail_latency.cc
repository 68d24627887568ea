// tail-latency: one writer appends single events at a steady rate; a subscriber
// thread waits with AppendWatcher::WaitForAppend (or polls every millisecond when
// the store has no watcher) and reads new events with ReadAll. For each event:
//   commit -> read: from AppendStream returning (the commit acknowledged) to the
//                   subscriber having read the event (0 when it was read before
//                   the writer saw the acknowledgement);
//   append -> read: from the AppendStream call to the event being read.
// Beside it, a projection Processor (checkpoints in memory, starting at the
// head) tails the same log; commit -> handler is from AppendStream returning to
// the Processor calling its handler with the event (extra fields
// commit_to_handler_p50_us / _p99_us).
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "estoria/checkpoint_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/projection/processor.h"
#include "estoria/projection/projection_sink.h"
#include "workloads.h"

namespace estoria::bench {

Result<BenchResult> RunTailLatency(const BenchOptions& o) {
  using Clock = std::chrono::steady_clock;
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenBenchStore(o));
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("tail-latency: the store has no GlobalReader");
  AppendWatcher* watcher = store->append_watcher();
  ESTORIA_ASSIGN_OR_RETURN(int64_t start_pos, reader->HeadPosition());
  const int64_t n = std::max<int64_t>(1, o.events);
  const int64_t rate = std::max<int64_t>(1, o.rate);
  TypeId stream("bench", Uuid::NewV7());

  // Per event (by position): when the append started, was acknowledged, was read.
  std::mutex mu;
  std::unordered_map<int64_t, Clock::time_point> started, acked, read_at, handled_at;

  // The Processor path: its handler records when each event of the stream arrives.
  auto checkpoints = estoria::memory::MemoryCheckpointStore::Open().value();
  ESTORIA_RETURN_IF_ERROR(checkpoints->Save("bench_tail_latency", start_pos));
  auto sink = std::make_shared<HandlerSink>(
      [&](const Event& e) {
        auto now = Clock::now();
        if (e.stream_id == stream) {
          std::lock_guard<std::mutex> lock(mu);
          handled_at[e.global_position] = now;
        }
        return Status::Ok();
      },
      checkpoints, estoria::memory::MemoryDeadLetterStore::Open().value());
  ProcessorOptions po;
  po.name = "bench_tail_latency";
  po.stream_types = {"bench"};
  po.checkpoint_every_events = 1000;
  po.poll_interval = std::chrono::milliseconds(100);
  ESTORIA_ASSIGN_OR_RETURN(auto processor, Processor::Create(store, sink, po));
  ESTORIA_RETURN_IF_ERROR(processor->Start());

  std::atomic<bool> abort{false};
  Status reader_error;
  std::thread subscriber([&] {
    int64_t cursor = start_pos;
    int64_t seen = 0;
    while (seen < n && !abort.load()) {
      if (watcher) {
        auto w = watcher->WaitForAppend(cursor, std::chrono::milliseconds(100));
        if (!w) {
          reader_error = w.error();
          return;
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ReadAllOptions options;
      options.after_position = cursor;
      options.stream_types = {"bench"};
      auto it = reader->ReadAll(options);
      if (!it) {
        reader_error = it.error();
        return;
      }
      while (true) {
        auto e = (*it)->Next();
        if (!e) {
          reader_error = e.error();
          return;
        }
        if (!*e) break;
        auto now = Clock::now();
        cursor = (*e)->global_position;
        if ((*e)->stream_id == stream) {
          std::lock_guard<std::mutex> lock(mu);
          read_at[cursor] = now;
          ++seen;
        }
      }
    }
  });

  WritableEvent proto = MakeEvent("deposited", MakePayload(o.payload, 1));
  Status writer_error;
  auto t_start = Clock::now();
  const auto interval = std::chrono::nanoseconds(1'000'000'000 / rate);
  for (int64_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(t_start + i * interval);
    auto t0 = Clock::now();
    auto res = store->AppendStream(stream, std::span(&proto, 1), AppendOptions::ExpectVersion(i));
    auto t1 = Clock::now();
    if (!res) {
      writer_error = res.error();
      break;
    }
    std::lock_guard<std::mutex> lock(mu);
    started[res->front().global_position] = t0;
    acked[res->front().global_position] = t1;
  }
  double secs = std::chrono::duration<double>(Clock::now() - t_start).count();
  if (!writer_error.ok()) {
    abort.store(true);
    subscriber.join();
    (void)processor->Stop();
    return writer_error;
  }
  subscriber.join();
  int64_t last_position = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [pos, t] : acked) last_position = std::max(last_position, pos);
  }
  Status waited = processor->WaitForPosition(last_position, std::chrono::seconds(30));
  Status stopped = processor->Stop();
  ESTORIA_RETURN_IF_ERROR(reader_error);
  ESTORIA_RETURN_IF_ERROR(waited.WithContext("tail-latency: processor"));
  ESTORIA_RETURN_IF_ERROR(stopped.WithContext("tail-latency: processor stop"));
  LatencyRecorder commit_to_handler;
  for (const auto& [pos, t_handled] : handled_at) {
    auto a = acked.at(pos);
    commit_to_handler.Add(t_handled > a ? t_handled - a : Clock::duration::zero());
  }
  LatencyRecorder commit_to_read, append_to_read;
  for (const auto& [pos, t_read] : read_at) {
    auto a = acked.at(pos);
    commit_to_read.Add(t_read > a ? t_read - a : Clock::duration::zero());
    append_to_read.Add(t_read - started.at(pos));
  }
  BenchResult r;
  r.workload = "tail-latency";
  r.backend = BackendOf(o.store);
  r.events = n;
  r.operations = n;
  r.seconds = secs;
  r.events_per_sec = n / secs;
  r.ops_per_sec = r.events_per_sec;
  r.latency_of = "append commit acknowledged -> event read by the woken subscriber";
  r.SetLatency(commit_to_read);
  r.extra["wake"] = watcher ? "AppendWatcher" : "poll-1ms";
  r.extra["append_to_read_p50_us"] = append_to_read.PercentileMicros(0.5);
  r.extra["append_to_read_p99_us"] = append_to_read.PercentileMicros(0.99);
  r.extra["commit_to_handler_p50_us"] = commit_to_handler.PercentileMicros(0.5);
  r.extra["commit_to_handler_p99_us"] = commit_to_handler.PercentileMicros(0.99);
  r.extra["handler_events"] = static_cast<int64_t>(handled_at.size());
  return r;
}

}  // namespace estoria::bench
