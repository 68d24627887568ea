// estoria/postgres/postgres_options.h: PostgresOptions, shared by the PostgreSQL
// event, snapshot and checkpoint stores, and ParsePostgresUri.
//
// URI form (OpenEventStore, PostgresEventStore::OpenUri):
//   postgres://user:password@host:port/dbname?sslmode=disable&estoria_schema=name
//   postgresql://...   (same)
// Everything is handed to libpq as is (PG* environment variables fill what the
// URI omits), except the Estoria parameters, which are removed first:
//   estoria_schema=NAME        the PostgreSQL schema (default "estoria")
//   estoria_pool_size=N        connections for reads and deletes (default 4)
//   estoria_durability=strict|relaxed   (default strict)
//   estoria_connect_timeout_ms=N        (default 5000)
//   estoria_max_event_data_bytes=N      (default 1048576, EventLimits)
//   estoria_max_event_metadata_bytes=N  (default 65536, EventLimits)
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "estoria/event_store.h"
#include "estoria/logger.h"
#include "estoria/status.h"

namespace estoria::postgres {

struct PostgresOptions {
  // libpq connection string (key=value pairs or a postgres:// URI without the
  // estoria_* parameters). Default "": PG* environment variables only.
  std::string conninfo;
  // The PostgreSQL schema holding Estoria's tables, created on open. Must match
  // [a-z_][a-z0-9_]* and be at most 63 bytes. Default "estoria".
  std::string schema = "estoria";
  // Pooled connections for reads, deletes, listing and the snapshot/checkpoint
  // stores (the append writer and the LISTEN connection are extra). Default 4.
  int pool_size = 4;
  // Deadline for establishing a connection, and for waiting for a free pooled
  // connection. Default 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // Deadline for one round trip to the server (including waiting for the
  // append lock held by other processes). Default 30 s.
  std::chrono::milliseconds query_timeout{30000};
  // kStrict: an append is acknowledged only once it is flushed to the
  // server's WAL (a second transaction with synchronous_commit = on follows
  // each batch), and reads never return an event that is not yet flushed.
  // kRelaxed: synchronous_commit = off and no wait for the flush; reads see
  // every committed event (the server may lose its last moments on a crash;
  // never reorders or corrupts). Default kStrict.
  Durability durability = Durability::kStrict;
  // Upper bound on the appends the writer batches into one transaction.
  // Default 512.
  int max_batch_appends = 512;
  // Where warnings (reconnects, listener trouble) go. Default: StderrLogger().
  std::shared_ptr<Logger> logger;
  // The event store's largest event data and metadata accepted (see
  // EventLimits in event_store.h); each in [1, 1073741823] (PostgreSQL's
  // largest bytea/text value is 1 GiB - 1). PostgresEventStore::Open returns
  // InvalidArgument outside that range. Default 1 MiB data, 64 KiB metadata.
  EventLimits event_limits{};
};

// Parses a postgres:// or postgresql:// URI into options (see the top of this
// file). InvalidArgument for another scheme or a bad estoria_* value.
Result<PostgresOptions> ParsePostgresUri(std::string_view uri);

}  // namespace estoria::postgres
