#include "workloads.h"

#include <malloc.h>

#include <atomic>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "estoria/open.h"
#ifdef ESTORIA_BENCH_NATS
#include "nats_bench.h"
#endif

namespace estoria::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::vector<TypeId> NewStreams(int n) {
  std::vector<TypeId> ids;
  ids.reserve(n);
  for (int i = 0; i < n; ++i) ids.push_back(TypeId("bench", Uuid::NewV7()));
  return ids;
}

// Writes `events` events spread round-robin over `streams` (untimed set-up),
// in appends of up to `per_append` events. Returns the head position before
// writing.
Result<int64_t> Populate(EventStore& store, const std::vector<TypeId>& streams, int64_t events, int payload,
                         int per_append) {
  int64_t before = 0;
  if (GlobalReader* r = store.global_reader()) {
    ESTORIA_ASSIGN_OR_RETURN(before, r->HeadPosition());
  }
  const int64_t per_stream = (events + static_cast<int64_t>(streams.size()) - 1) / static_cast<int64_t>(streams.size());
  int64_t written = 0;
  const int64_t chunk = std::max(1, per_append);
  for (int64_t round = 0; round < per_stream && written < events; round += chunk) {
    for (const TypeId& id : streams) {
      int64_t n = std::min<int64_t>({chunk, per_stream - round, events - written});
      if (n <= 0) break;
      std::vector<WritableEvent> batch;
      for (int64_t k = 0; k < n; ++k) {
        batch.push_back(
            MakeEvent((written + k) % 3 == 2 ? "withdrawn" : "deposited", MakePayload(payload, written + k)));
      }
      ESTORIA_RETURN_IF_ERROR(store.AppendStream(id, batch).status());
      written += n;
    }
  }
  return before;
}

namespace {

BenchResult Finish(const std::string& workload, const BenchOptions& o, int64_t events, int64_t ops, double secs,
                   LatencyRecorder& lat, const std::string& latency_of) {
  BenchResult r;
  r.workload = workload;
  r.backend = BackendOf(o.store);
  r.events = events;
  r.operations = ops;
  r.seconds = secs;
  r.events_per_sec = secs > 0 ? events / secs : 0;
  r.ops_per_sec = secs > 0 ? ops / secs : 0;
  r.latency_of = latency_of;
  r.SetLatency(lat);
  return r;
}

}  // namespace

std::string UriWithDurability(const std::string& uri, const std::string& durability) {
  if (durability != "relaxed") return uri;
  const char sep = uri.find('?') == std::string::npos ? '?' : '&';
  if (uri.starts_with("sqlite:") && uri != "sqlite::memory:") return uri + sep + "durability=relaxed";
  if (uri.starts_with("postgres")) return uri + sep + "estoria_durability=relaxed";
  return uri;
}

Result<std::shared_ptr<EventStore>> OpenBenchStore(const BenchOptions& o) {
  if (o.durability != "strict" && o.durability != "relaxed") {
    return Status::InvalidArgument("--durability must be strict or relaxed");
  }
  if (o.durability == "relaxed" && BackendOf(o.store) == "nats") {
    // Not silently the same as strict: JetStream acknowledges a message once it
    // is stored (on a quorum of replicas); the servers decide when to fsync.
    return Status::InvalidArgument("--durability relaxed: the NATS store has no durability setting");
  }
  auto store = OpenEventStore(UriWithDurability(o.store, o.durability));
  if (!store) return store.error().WithContext("cannot open store " + o.store);
  return store;
}

WritableEvent MakeEvent(const std::string& type, std::string data) {
  WritableEvent e;
  e.type = type;
  e.data = std::move(data);
  return e;
}

std::string MakePayload(int bytes, int64_t n) {
  // {"amount":N,"pad":"xxx..."} padded to `bytes` (at least the fixed part).
  std::string head = "{\"amount\":" + std::to_string(n % 1000 + 1) + ",\"pad\":\"";
  int pad = std::max<int>(0, bytes - static_cast<int>(head.size()) - 2);
  return head + std::string(pad, 'x') + "\"}";
}

Result<BenchResult> RunAppend(const BenchOptions& o) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenBenchStore(o));
  const int writers = std::max(1, o.writers);
  const int nstreams = std::max(o.streams, writers);  // every writer owns its streams
  const int batch = std::max(1, o.batch);
  const size_t in_flight = static_cast<size_t>(std::max(1, o.in_flight));
  const int64_t appends_per_writer = std::max<int64_t>(1, o.events / (int64_t(writers) * batch));
  PipelinedAppend pipelined;
  if (in_flight > 1) {
#ifdef ESTORIA_BENCH_NATS
    pipelined = NatsPipelinedAppend(store);
#endif
    if (!pipelined) {
      return Status::InvalidArgument("--in-flight " + std::to_string(in_flight) +
                                     ": this store has no pipelined appends (only nats:// stores do)");
    }
  }
  std::vector<TypeId> streams = NewStreams(nstreams);
  std::vector<WritableEvent> proto(batch);
  for (int i = 0; i < batch; ++i) proto[i] = MakeEvent("deposited", MakePayload(o.payload, i));

  std::vector<LatencyRecorder> lat(writers);
  std::atomic<int64_t> conflicts{0};
  std::mutex error_mu;
  Status first_error;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      // Writer w owns streams w, w + writers, ...; it tracks their versions and
      // appends with ExpectVersion (the expectation check is on). With
      // --in-flight K it keeps up to K pipelined appends outstanding, each
      // expecting the version the ones before it leave.
      std::vector<size_t> mine;
      for (size_t s = w; s < streams.size(); s += writers) mine.push_back(s);
      std::vector<int64_t> versions(mine.size(), 0);
      struct Outstanding {
        std::future<Result<std::vector<Event>>> result;
        Clock::time_point start;
      };
      std::deque<Outstanding> outstanding;
      // Records one finished append; false on an error that ends the writer.
      const auto settle = [&](const Result<std::vector<Event>>& res, Clock::time_point t0) {
        lat[w].Add(Clock::now() - t0);
        if (res) return true;
        if (res.error().IsConflict()) {
          ++conflicts;
          return true;
        }
        std::lock_guard<std::mutex> lock(error_mu);
        if (first_error.ok()) first_error = res.error();
        return false;
      };
      while (!go.load()) std::this_thread::yield();
      for (int64_t i = 0; i < appends_per_writer; ++i) {
        size_t k = static_cast<size_t>(i) % mine.size();
        const AppendOptions expect = AppendOptions::ExpectVersion(versions[k]);
        if (!pipelined) {
          auto t0 = Clock::now();
          auto res = store->AppendStream(streams[mine[k]], proto, expect);
          if (!settle(res, t0)) return;
          if (res) versions[k] += batch;
          continue;
        }
        if (outstanding.size() == in_flight) {
          Outstanding first = std::move(outstanding.front());
          outstanding.pop_front();
          if (!settle(first.result.get(), first.start)) return;
        }
        auto t0 = Clock::now();
        outstanding.push_back({pipelined(streams[mine[k]], proto, expect), t0});
        versions[k] += batch;
      }
      for (auto& o : outstanding) {
        if (!settle(o.result.get(), o.start)) return;
      }
    });
  }
  // --start-at: several processes start their timed part together.
  if (o.start_at_ms > 0) {
    std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::milliseconds(o.start_at_ms)));
  }
  const auto unix_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t started_unix_us = unix_us();
  auto start = Clock::now();
  go.store(true);
  for (auto& t : threads) t.join();
  double secs = Seconds(Clock::now() - start);
  const int64_t ended_unix_us = unix_us();
  ESTORIA_RETURN_IF_ERROR(first_error);
  LatencyRecorder all;
  for (auto& l : lat) all.Merge(l);
  int64_t appends = appends_per_writer * writers - conflicts.load();
  BenchResult r = Finish("append", o, appends * batch, appends, secs, all,
                         pipelined ? "one pipelined append, queued to acknowledged" : "one AppendStream call");
  r.conflicts = conflicts.load();
  r.extra["appends_per_sec"] = r.ops_per_sec;
  r.extra["streams_used"] = nstreams;
  if (pipelined) r.extra["in_flight"] = static_cast<int64_t>(in_flight);
  // The timed window on the wall clock, to combine processes run together.
  r.extra["started_unix_us"] = started_unix_us;
  r.extra["ended_unix_us"] = ended_unix_us;
  return r;
}

Result<BenchResult> RunReadStream(const BenchOptions& o) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenBenchStore(o));
  const int readers = std::max(1, o.writers);
  std::vector<TypeId> streams = NewStreams(std::max(1, o.streams));
  ESTORIA_RETURN_IF_ERROR(Populate(*store, streams, o.events, o.payload, o.setup_batch).status());
  std::vector<LatencyRecorder> lat(readers);
  std::vector<int64_t> counts(readers, 0);
  std::mutex error_mu;
  Status first_error;
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int w = 0; w < readers; ++w) {
    threads.emplace_back([&, w] {
      for (size_t s = w; s < streams.size(); s += readers) {
        auto t0 = Clock::now();
        // Read and fold: sum the payload sizes.
        auto it = store->ReadStream(streams[s]);
        Status st = it.status();
        size_t bytes = 0;
        while (st.ok()) {
          auto e = (*it)->Next();
          if (!e) {
            st = e.error();
            break;
          }
          if (!*e) break;
          bytes += (*e)->data.size();
          ++counts[w];
        }
        lat[w].Add(Clock::now() - t0);
        if (!st.ok() || bytes == 0) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.ok()) first_error = st.ok() ? Status::Internal("empty stream read") : st;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = Seconds(Clock::now() - start);
  ESTORIA_RETURN_IF_ERROR(first_error);
  LatencyRecorder all;
  for (auto& l : lat) all.Merge(l);
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  BenchResult r =
      Finish("read-stream", o, total, static_cast<int64_t>(streams.size()), secs, all, "reading one whole stream");
  r.extra["events_per_stream"] = total / static_cast<int64_t>(streams.size());
  return r;
}

namespace {

// Scans the log after `after` (at most `count` events), calling fold per event.
// Latency samples: one per 1000 events.
template <typename Fold>
Result<BenchResult> Scan(const std::string& workload, const BenchOptions& o, GlobalReader& reader, int64_t after,
                         int64_t count, Fold fold) {
  LatencyRecorder lat;
  ReadAllOptions options;
  options.after_position = after;
  options.count = count;
  auto start = Clock::now();
  auto chunk = start;
  ESTORIA_ASSIGN_OR_RETURN(auto it, reader.ReadAll(options));
  int64_t n = 0;
  while (true) {
    ESTORIA_ASSIGN_OR_RETURN(std::optional<Event> e, it->Next());
    if (!e) break;
    ESTORIA_RETURN_IF_ERROR(fold(*e));
    if (++n % 1000 == 0) {
      auto now = Clock::now();
      lat.Add(now - chunk);
      chunk = now;
    }
  }
  double secs = Seconds(Clock::now() - start);
  if (n < count) return Status::Internal(workload + ": read " + std::to_string(n) + " of " + std::to_string(count));
  return Finish(workload, o, n, n / 1000, secs, lat, "1000 events");
}

}  // namespace

Result<BenchResult> ScanReadAll(const BenchOptions& o, GlobalReader& reader, int64_t after, int64_t count) {
  size_t bytes = 0;
  return Scan("read-all", o, reader, after, count, [&](const Event& e) {
    bytes += e.data.size();
    return Status::Ok();
  });
}

Result<BenchResult> RunReadAll(const BenchOptions& o) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenBenchStore(o));
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("read-all: the store has no GlobalReader");
  std::vector<TypeId> streams = NewStreams(std::max(1, o.streams));
  ESTORIA_ASSIGN_OR_RETURN(int64_t before, Populate(*store, streams, o.events, o.payload, o.setup_batch));
  return ScanReadAll(o, *reader, before, o.events);
}

Result<BenchResult> RunProject(const BenchOptions& o) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenBenchStore(o));
  GlobalReader* reader = store->global_reader();
  if (!reader) return Status::NotSupported("project: the store has no GlobalReader");
  std::vector<TypeId> streams = NewStreams(std::max(1, o.streams));
  ESTORIA_ASSIGN_OR_RETURN(int64_t before, Populate(*store, streams, o.events, o.payload, o.setup_batch));
  // The read model: balance per account stream, built from decoded payloads.
  std::unordered_map<TypeId, int64_t> balances;
  auto result = Scan("project", o, *reader, before, o.events, [&](const Event& e) -> Status {
    auto j = nlohmann::json::parse(e.data, nullptr, false);
    if (j.is_discarded() || !j.contains("amount")) return Status::Corruption("undecodable payload");
    int64_t amount = j["amount"].get<int64_t>();
    balances[e.stream_id] += e.type() == "withdrawn" ? -amount : amount;
    return Status::Ok();
  });
  if (result) result->extra["read_model_rows"] = balances.size();
  return result;
}

namespace {

// VmRSS of this process from /proc/self/status, in bytes.
Result<int64_t> ResidentBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmRSS:   1234 kB"
  }
  return Status::NotSupported("footprint: no VmRSS in /proc/self/status (Linux only)");
}

}  // namespace

Result<BenchResult> RunFootprint(const BenchOptions& o) {
  ESTORIA_ASSIGN_OR_RETURN(auto store, OpenBenchStore(o));
  std::vector<TypeId> streams = NewStreams(std::max(1, o.streams));
  const int batch = std::max(1, o.batch);
  std::vector<WritableEvent> proto(batch);
  for (int i = 0; i < batch; ++i) proto[i] = MakeEvent("deposited", MakePayload(o.payload, i));
  // Freed heap memory returned to the system first, so that the difference is
  // what the store holds.
  malloc_trim(0);
  ESTORIA_ASSIGN_OR_RETURN(int64_t before, ResidentBytes());
  LatencyRecorder lat;
  std::vector<int64_t> versions(streams.size(), 0);
  int64_t written = 0, appends = 0;
  auto start = Clock::now();
  while (written < o.events) {
    size_t k = static_cast<size_t>(appends % static_cast<int64_t>(streams.size()));
    int64_t n = std::min<int64_t>(batch, o.events - written);
    std::span<const WritableEvent> events(proto.data(), static_cast<size_t>(n));
    auto t0 = Clock::now();
    auto res = store->AppendStream(streams[k], events, AppendOptions::ExpectVersion(versions[k]));
    lat.Add(Clock::now() - t0);
    if (!res) return res.error().WithContext("footprint: append");
    versions[k] += n;
    written += n;
    ++appends;
  }
  double secs = Seconds(Clock::now() - start);
  malloc_trim(0);
  ESTORIA_ASSIGN_OR_RETURN(int64_t after, ResidentBytes());
  BenchResult r = Finish("footprint", o, written, appends, secs, lat, "one AppendStream call");
  r.extra["rss_before_bytes"] = before;
  r.extra["rss_after_bytes"] = after;
  r.extra["bytes_per_event"] = static_cast<double>(after - before) / static_cast<double>(written);
  r.extra["payload_bytes"] = o.payload;
  return r;
}

}  // namespace estoria::bench
