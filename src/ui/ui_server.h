// estoria ui (internal to the CLI): the admin web UI's HTTP server. Serves the
// embedded single-page application and the JSON API documented in docs/ui.md
// ("## JSON API", "## Security").
//
// Thread safety: Start, port, url and Stop may be called from any thread;
// Stop is idempotent and also run by the destructor. Requests are served on a
// pool of httplib worker threads; every store used is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "estoria/event_store.h"
#include "estoria/status.h"

namespace estoria::ui {

struct UiOptions {
  // Event store URI (required unless a store is given to Start).
  std::string store_uri;
  // Where checkpoints, dead letters and leases live (sqlite:PATH or
  // postgres://...). Default "": store_uri when it is sqlite/postgres, else none
  // (the projections list is then empty).
  std::string read_model_uri;
  // Listen address. Default 127.0.0.1, port 8081; port 0 picks a free port.
  std::string host = "127.0.0.1";
  int port = 8081;
  // Access token. Required when host is not a loopback address. Default "".
  std::string token;
  // Enables the dead-letter replay/skip POSTs. Default false.
  bool allow_writes = false;
  // The overview counts streams (paged ListStreams reads) up to this many and
  // then reports the cap with "streams_capped": true. Default 100000.
  int64_t stream_count_cap = 100000;
};

class UiServer {
 public:
  // Opens the store (unless `store` is given, e.g. an in-process memory store)
  // and the read model, binds the listener and starts serving on a background
  // thread. Errors:
  //  InvalidArgument  a non-loopback host without a token ("--token ..."), a bad
  //                   port, an unusable URI
  //  Unavailable      the address cannot be bound
  //  whatever OpenEventStore / the read model's Open return.
  static Result<std::unique_ptr<UiServer>> Start(const UiOptions& options, std::shared_ptr<EventStore> store = nullptr);

  virtual ~UiServer() = default;
  // The bound port (the real one when 0 was asked for).
  virtual int port() const = 0;
  // "http://HOST:PORT/".
  virtual std::string url() const = 0;
  // Stops accepting, ends live tails and joins the server thread.
  virtual void Stop() = 0;
  // Blocks until the server stops (Stop from another thread, or a fatal error).
  virtual void Wait() = 0;
};

}  // namespace estoria::ui
