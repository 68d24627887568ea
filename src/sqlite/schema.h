// Schema versioning shared by the SQLite stores: a table estoria_schema
// (component TEXT PRIMARY KEY, version INTEGER) records the schema version of
// each component ("events", "snapshots", "checkpoints") kept in a file.
// Internal to estoria::sqlite.
//
// Thread safety: functions use the connection they are given (one thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "estoria/sqlite/database.h"

namespace estoria::sqlite::internal {

// The version recorded for `component`, 0 when none. Errors as Step.
Result<int64_t> StoredSchemaVersion(SqliteDatabase& db, std::string_view component);

// FailedPrecondition naming both versions when the file holds a newer version
// of `component` than `supported`; OK otherwise. Reads only.
Status CheckSchemaNotNewer(SqliteDatabase& db, std::string_view component, int64_t supported);

// Creates the component's tables (running `ddl`) when absent and records
// `version`, in one BEGIN IMMEDIATE transaction; re-checks inside it that no
// other process recorded a newer version. With read_only, only checks that
// the version is present and current (FailedPrecondition otherwise).
Status EnsureSchema(SqliteDatabase& db, std::string_view component, int64_t version, std::string_view ddl,
                    bool read_only);

// FailedPrecondition when `path` exists and has no write permission (checked
// by mode bits too, since root ignores them); OK otherwise.
Status CheckWritableFile(const std::string& path);

struct StoreFileOptions {
  std::string path;  // ":memory:" for a private in-memory database
  Durability durability = Durability::kStrict;
  std::chrono::milliseconds busy_timeout{5000};
  bool read_only = false;
};

// Opens the connection of a store kept in an SQLite file, in this order so
// that a refused file is never modified: the read-only check, open, Validate
// (Corruption for a non-database), CheckSchemaNotNewer, then the WAL and
// synchronous pragmas and EnsureSchema.
Result<std::unique_ptr<SqliteDatabase>> OpenStoreFile(const StoreFileOptions& options, std::string_view component,
                                                      int64_t version, std::string_view ddl);

}  // namespace estoria::sqlite::internal
