// raw-nats: the JetStream ceiling for the nats:// store's appends, with the
// parameters of the `append` workload.
//
// What is timed: W threads, each looping synchronous JetStream publishes
// (js_Publish, waiting for the PubAck: the message is stored, on a quorum of
// the replicas when replicas > 1, which is the acknowledgement an append of
// the store waits for) of one message of `batch` events, each event the
// append workload's `payload`-byte JSON document (the message body is the
// `batch` documents back to back), to a subject of its own ("<stream>.w<i>"),
// until `events` events are stored in all. The stream is created for the run
// as the store creates its own (file storage, limits retention, the URI's
// replicas, a 2-minute duplicate window) under a fresh name, and deleted
// afterwards. Latency: one publish, from the call to its acknowledgement.
//
// Connections: one, shared by the W threads (default, --raw-connections
// shared), because that is what the store has - one NatsEventStore holds one
// libnats connection for all its callers, so the ceiling gets the same
// resources (one socket, one client reader thread, one server-side client
// whose messages the server handles in order) and the ratio measures the
// store's write path, not a different connection layout. With
// --raw-connections per-writer every thread gets its own connection (and the
// server handles the W sockets in parallel): the best a synchronous
// publisher with W threads can do with any number of connections. bench/run-all
// measures both in each round, and the target of the store (2x the
// synchronous ceiling) is judged against the higher of the two.
//
// Not included, on purpose: the store's headers (Nats-Msg-Id for
// de-duplication, Nats-Expected-Last-Sequence, Est-*), its event encoding and
// its reads of stream state - they are the store's overhead, which the ratio
// is there to show. Like the store, the connection picks a random server of
// the URI's list, which need not be the stream leader's (one more hop).
#include <nats/nats.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "nats_bench.h"
#include "raw_ceiling.h"
#include "workloads.h"

namespace estoria::bench {
namespace {

using Clock = std::chrono::steady_clock;

Status NatsFailure(const std::string& what, natsStatus s, jsErrCode jerr) {
  std::string text = "raw-nats " + what + ": " + natsStatus_GetText(s);
  if (jerr != 0) text += " (JetStream err_code " + std::to_string(static_cast<int>(jerr)) + ")";
  return Status::Unavailable(text);
}

// One libnats connection and its JetStream context, closed on destruction.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  Status Open(const NatsUri& uri) {
    natsOptions* opts = nullptr;
    std::vector<const char*> urls;
    for (const auto& s : uri.servers) urls.push_back(s.c_str());
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts, uri.timeout_ms);
    if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK) return NatsFailure("connect", s, static_cast<jsErrCode>(0));
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = uri.timeout_ms;
    s = natsConnection_JetStream(&js_, nc_, &jo);
    if (s != NATS_OK) return NatsFailure("JetStream context", s, static_cast<jsErrCode>(0));
    return Status::Ok();
  }
  jsCtx* js() const { return js_; }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace

Result<BenchResult> RunRawNats(const BenchOptions& o) {
  if (BackendOf(o.store) != "nats") return Status::InvalidArgument("raw-nats needs a nats:// store URI");
  if (o.durability != "strict") {
    return Status::InvalidArgument("raw-nats: NATS has no relaxed mode (--durability strict only)");
  }
  const bool per_writer = o.raw_connections == "per-writer";
  if (!per_writer && o.raw_connections != "shared") {
    return Status::InvalidArgument("--raw-connections must be shared or per-writer");
  }
  ESTORIA_ASSIGN_OR_RETURN(NatsUri uri, ParseNatsUri(o.store));
  const int writers = std::max(1, o.writers);
  const int batch = std::max(1, o.batch);
  const int64_t msgs_per_writer = std::max<int64_t>(1, o.events / (int64_t(writers) * batch));
  NatsUri raw = uri;
  raw.stream = (uri.stream.empty() ? std::string("estoria_bench") : uri.stream) + "_raw";
  const std::string stream = UniqueStreamName(raw);

  Connection admin;
  ESTORIA_RETURN_IF_ERROR(admin.Open(uri));
  const std::string subjects = stream + ".>";
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream.c_str();
  cfg.Subjects = subject_list;
  cfg.SubjectsLen = 1;
  cfg.Retention = js_LimitsPolicy;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = uri.replicas;
  cfg.Discard = js_DiscardOld;
  cfg.Duplicates = int64_t{120} * 1000 * 1000 * 1000;
  cfg.DenyDelete = true;
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&info, admin.js(), &cfg, nullptr, &jerr);
  if (s != NATS_OK) return NatsFailure("create stream " + stream, s, jerr);
  const std::string leader =
      info->Cluster != nullptr && info->Cluster->Leader != nullptr ? info->Cluster->Leader : "(single server)";
  jsStreamInfo_Destroy(info);
  struct Cleanup {
    const NatsUri& uri;
    const std::string& stream;
    ~Cleanup() {
      Status st = DeleteNatsStream(uri, stream);
      if (!st.ok()) std::fprintf(stderr, "estoria-bench: %s\n", st.ToString().c_str());
    }
  } cleanup{uri, stream};

  std::vector<std::unique_ptr<Connection>> own;
  if (per_writer) {
    for (int w = 0; w < writers; ++w) {
      own.push_back(std::make_unique<Connection>());
      ESTORIA_RETURN_IF_ERROR(own.back()->Open(uri));
    }
  }
  std::string body;
  for (int k = 0; k < batch; ++k) body += MakePayload(o.payload, k);
  std::vector<LatencyRecorder> lat(writers);
  std::mutex error_mu;
  Status first_error;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      jsCtx* js = per_writer ? own[w]->js() : admin.js();
      const std::string subject = stream + ".w" + std::to_string(w);
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = uri.timeout_ms;
      while (!go.load()) std::this_thread::yield();
      for (int64_t i = 0; i < msgs_per_writer; ++i) {
        jsPubAck* ack = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        auto t0 = Clock::now();
        natsStatus st = js_Publish(&ack, js, subject.c_str(), body.data(), static_cast<int>(body.size()), &po, &code);
        lat[w].Add(Clock::now() - t0);
        jsPubAck_Destroy(ack);
        if (st != NATS_OK) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.ok()) first_error = NatsFailure("publish to " + subject, st, code);
          return;
        }
      }
    });
  }
  auto start = Clock::now();
  go.store(true);
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  ESTORIA_RETURN_IF_ERROR(first_error);
  const int64_t ops = msgs_per_writer * writers;
  BenchResult r = BenchResult::Timed("raw-nats", "nats", ops, ops * batch, secs,
                                     "one synchronous JetStream publish (until its PubAck)", lat);
  r.extra["connections"] = per_writer ? "per-writer" : "shared";
  r.extra["replicas"] = uri.replicas;
  r.extra["storage"] = "file";
  r.extra["message_bytes"] = static_cast<int64_t>(body.size());
  r.extra["stream_leader"] = leader;
  return r;
}

}  // namespace estoria::bench
