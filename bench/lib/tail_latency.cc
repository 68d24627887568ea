// tail-latency: one writer appends single events at a steady rate; a subscriber
// thread waits with AppendWatcher::WaitForAppend (or polls every millisecond when
// the store has no watcher) and reads new events with ReadAll. For each event:
//   commit -> read: from AppendStream returning (the commit acknowledged) to the
//                   subscriber having read the event (0 when it was read before
//                   the writer saw the acknowledgement);
//   append -> read: from the AppendStream call to the event being read.
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>

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
  std::unordered_map<int64_t, Clock::time_point> started, acked, read_at;
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
    return writer_error;
  }
  subscriber.join();
  ESTORIA_RETURN_IF_ERROR(reader_error);
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
  return r;
}

}  // namespace estoria::bench
