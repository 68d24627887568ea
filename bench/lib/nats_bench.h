// estoria bench, nats:// stores (compiled only in builds with the NATS backend,
// ESTORIA_BENCH_NATS): the parts of a store URI the bench needs, and the fresh
// JetStream stream every run gets.
//
// Every estoria-bench run on a nats:// store works on a stream of its own,
// named "<stream>_<12 random hex digits>" (<stream> is the URI's stream=,
// "estoria_bench" when absent), so that no run reads or appends after another
// run's messages (the NATS store's reads bisect and scan the whole log). The
// store creates that stream when it opens the URI (file storage, the URI's
// replicas); the raw ceiling creates its own the same way. The stream is
// deleted when the run ends, so the servers' disks do not fill up over a
// bench/run-all.
//
// Thread safety: plain values; NatsRunStream is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "estoria/status.h"
#include "workloads.h"

namespace estoria::bench {

// "nats://host:port[,host:port...]?stream=NAME&replicas=N&timeout_ms=T".
struct NatsUri {
  std::vector<std::string> servers;  // "nats://host:port" each
  std::string stream;                // "" when the URI has none
  int replicas = 1;
  int64_t timeout_ms = 10000;
};

// InvalidArgument for a URI that is not nats://... with the options above.
Result<NatsUri> ParseNatsUri(const std::string& uri);

// "<prefix>_<12 random hex digits>" (prefix: the URI's stream or
// "estoria_bench"), a valid stream name for both NATS and the store.
std::string UniqueStreamName(const NatsUri& uri);

// NatsEventStore::AppendStreamAsync of `store` when it is a NATS store (kept
// alive by the function), else an empty function.
PipelinedAppend NatsPipelinedAppend(const std::shared_ptr<EventStore>& store);

// Deletes a JetStream stream (through a connection of its own). NotFound when
// there is no such stream.
Status DeleteNatsStream(const NatsUri& uri, const std::string& stream);

// The fresh stream of one run: uri() is the store URI with stream= set to the
// new name; the destructor deletes the stream (a failure is printed to stderr:
// a failed cleanup must not hide the run's result).
class NatsRunStream {
 public:
  static Result<NatsRunStream> For(const std::string& store_uri);
  NatsRunStream(NatsRunStream&& other) noexcept;
  NatsRunStream& operator=(NatsRunStream&&) = delete;
  NatsRunStream(const NatsRunStream&) = delete;
  ~NatsRunStream();

  const std::string& uri() const { return uri_; }
  const std::string& stream() const { return stream_; }
  int replicas() const { return parsed_.replicas; }

 private:
  NatsRunStream() = default;
  NatsUri parsed_;
  std::string stream_;
  std::string uri_;
  bool armed_ = false;
};

}  // namespace estoria::bench
