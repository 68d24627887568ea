// pg_wire.h (internal to estoria::postgres, not installed): the wire-level
// helpers of the PostgreSQL backend that are not part of the user API of
// estoria/postgres/connection.h: type OIDs, binary encoders, the error
// mapping, and pipelines.
//
// Thread safety: plain functions and values; a PgPipeline is used by one
// thread at a time.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/postgres/connection.h"

namespace estoria::postgres {

// Well-known type OIDs (pg_type.h), for binary parameters.
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kInt4Oid = 23;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kJsonbOid = 3802;
inline constexpr Oid kTimestamptzOid = 1184;
inline constexpr Oid kUuidOid = 2950;
inline constexpr Oid kInt8ArrayOid = 1016;
inline constexpr Oid kTextArrayOid = 1009;
inline constexpr Oid kByteaArrayOid = 1001;
inline constexpr Oid kUuidArrayOid = 2951;
inline constexpr Oid kJsonbArrayOid = 3807;
inline constexpr Oid kTimestamptzArrayOid = 1185;

// Binary wire forms of single values, e.g. for PgBinaryArray elements.
std::string PgBinaryInt64(int64_t value);
std::string PgBinaryUuid(const Uuid& value);
std::string PgBinaryJsonb(std::string_view json_text);  // version byte + text
std::string PgBinaryTimestamp(Timestamp value);         // timestamptz (microseconds)
// A one-dimensional array without NULLs in binary format, for
// PgParams::Binary(..., array type OID): `elements` hold the binary form of
// each element (text and bytea: the bytes themselves).
std::string PgBinaryArray(Oid element_type, const std::vector<std::string>& elements);

// The Status for a failed result (res may be null: then the connection's error
// message is used). See the mapping at the top of this file.
Status PgErrorStatus(PGconn* conn, const PGresult* res, std::string_view context);

// PgPipeline: statements sent in one round trip (pipeline mode, one Sync at the end). The
// server runs them in order; after the first error the rest are skipped.
class PgPipeline {
 public:
  PgPipeline& Add(const PgStatement& statement, PgParams params = {}, PgFormat result = PgFormat::kText);
  size_t size() const { return items_.size(); }
  // Called once the whole pipeline has been handed to the socket, before any
  // answer is read (e.g. to let another thread send its own pipeline only
  // after this one).
  void set_on_sent(std::function<void()> on_sent) { on_sent_ = std::move(on_sent); }
  // After RunPipeline failed: the index of the first statement the server
  // reported failed or skipped, so that every statement before it ran (-1 when
  // the connection broke or nothing was run).
  int failed_at() const { return failed_at_; }
#ifdef ESTORIA_ENABLE_SYNC_POINTS
  // Test builds only (see ESTORIA_PG_PIPELINE_AFTER_SENT below).
  void set_after_sent(const char* sync_point) { after_sent_ = sync_point; }
#endif

 private:
  friend class PgConnection;
  struct Item {
    const PgStatement* statement;
    PgParams params;
    PgFormat result;
  };
  std::vector<Item> items_;
  std::function<void()> on_sent_;
  mutable int failed_at_ = -1;
#ifdef ESTORIA_ENABLE_SYNC_POINTS
  const char* after_sent_ = nullptr;
#endif
};

// Names a sync point (src/core/sync_point.h) that RunPipeline passes once the
// whole pipeline has been handed to the socket and before it reads any answer,
// with the PGconn* as argument: e.g. between sending a COMMIT and reading its
// result, where a test cuts the connection. Expands to nothing (no code, no
// member) unless ESTORIA_ENABLE_SYNC_POINTS is defined.
#ifdef ESTORIA_ENABLE_SYNC_POINTS
#define ESTORIA_PG_PIPELINE_AFTER_SENT(pipeline, name) (pipeline).set_after_sent(name)
#else
#define ESTORIA_PG_PIPELINE_AFTER_SENT(pipeline, name) static_cast<void>(0)
#endif

}  // namespace estoria::postgres
