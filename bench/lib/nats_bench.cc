#include "nats_bench.h"

#include <nats/nats.h>

#include <cstdio>
#include <random>

#include "estoria/backend/uri.h"
#include "estoria/nats/nats_event_store.h"

namespace estoria::bench {

Result<NatsUri> ParseNatsUri(const std::string& uri) {
  ESTORIA_ASSIGN_OR_RETURN(backend::ParsedUri parsed, backend::ParseUri(uri));
  if (parsed.scheme != "nats" || !parsed.body.starts_with("//") || parsed.body.size() <= 2) {
    return Status::InvalidArgument("bench: not a nats://host:port[,host:port...] URI: \"" + uri + "\"");
  }
  NatsUri out;
  std::string hosts = parsed.body.substr(2);
  size_t start = 0;
  while (start <= hosts.size()) {
    size_t comma = hosts.find(',', start);
    std::string host = hosts.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (host.empty()) return Status::InvalidArgument("bench: empty server in \"" + uri + "\"");
    out.servers.push_back("nats://" + host);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (const auto& p : parsed.query) {
    if (p.key == "stream") {
      out.stream = p.value;
    } else if (p.key == "replicas") {
      ESTORIA_ASSIGN_OR_RETURN(int64_t r, backend::UriInteger("nats", p, 1, 5));
      out.replicas = static_cast<int>(r);
    } else if (p.key == "timeout_ms") {
      ESTORIA_ASSIGN_OR_RETURN(out.timeout_ms, backend::UriInteger("nats", p, 1, 3600 * 1000));
    } else {
      return backend::UriUnknownOption("nats", p, "stream, replicas, timeout_ms");
    }
  }
  return out;
}

PipelinedAppend NatsPipelinedAppend(const std::shared_ptr<EventStore>& store) {
  auto nats = std::dynamic_pointer_cast<nats::NatsEventStore>(store);
  if (!nats) return {};
  return [nats](const TypeId& id, std::vector<WritableEvent> events, const AppendOptions& options) {
    return nats->AppendStreamAsync(id, std::move(events), options);
  };
}

std::string UniqueStreamName(const NatsUri& uri) {
  static const char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::string suffix;
  for (int i = 0; i < 12; ++i) suffix += kHex[rng() % 16];
  return (uri.stream.empty() ? std::string("estoria_bench") : uri.stream) + "_" + suffix;
}

Status DeleteNatsStream(const NatsUri& uri, const std::string& stream) {
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::vector<const char*> urls;
  for (const auto& s : uri.servers) urls.push_back(s.c_str());
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, uri.timeout_ms);
  if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = uri.timeout_ms;
  if (s == NATS_OK) s = natsConnection_JetStream(&js, nc, &jo);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (s == NATS_OK) s = js_DeleteStream(js, stream.c_str(), nullptr, &jerr);
  const std::string text = natsStatus_GetText(s);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return Status::NotFound("no stream " + stream);
  if (s != NATS_OK) {
    return Status::Unavailable("cannot delete NATS stream " + stream + ": " + text + " (err_code " +
                               std::to_string(static_cast<int>(jerr)) + ")");
  }
  return Status::Ok();
}

Result<NatsRunStream> NatsRunStream::For(const std::string& store_uri) {
  NatsRunStream out;
  ESTORIA_ASSIGN_OR_RETURN(out.parsed_, ParseNatsUri(store_uri));
  out.stream_ = UniqueStreamName(out.parsed_);
  // The same URI with stream= replaced (or added).
  const size_t q = store_uri.find('?');
  std::string query;
  if (q != std::string::npos) {
    size_t start = q + 1;
    while (start <= store_uri.size()) {
      size_t amp = store_uri.find('&', start);
      std::string kv = store_uri.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!kv.empty() && !kv.starts_with("stream=")) query += "&" + kv;
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  out.uri_ = store_uri.substr(0, q) + "?stream=" + out.stream_ + query;
  out.armed_ = true;
  return out;
}

NatsRunStream::NatsRunStream(NatsRunStream&& other) noexcept
    : parsed_(std::move(other.parsed_)),
      stream_(std::move(other.stream_)),
      uri_(std::move(other.uri_)),
      armed_(other.armed_) {
  other.armed_ = false;
}

NatsRunStream::~NatsRunStream() {
  if (!armed_) return;
  Status st = DeleteNatsStream(parsed_, stream_);
  // NotFound: the run failed before the store created the stream.
  if (!st.ok() && !st.IsNotFound()) std::fprintf(stderr, "estoria-bench: %s\n", st.ToString().c_str());
}

}  // namespace estoria::bench
