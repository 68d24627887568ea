// estoria/postgres/postgres_projection_stores.h: the PostgreSQL tables behind
// SQL read models, usable on their own (part of estoria::postgres). They live in
// an Estoria schema (PostgresOptions::schema, default "estoria"), beside its
// checkpoints table:
//   PostgresDeadLetterStore    parked events (table projection_dead_letters)
//                              and their replay requests
//                              (projection_dead_letter_replays, rows deleted
//                              with their parked event by ON DELETE CASCADE)
//   PostgresVersionRegistry    active projection versions (projection_versions)
//   PostgresProjectionTables   schema creation and in-transaction helpers
//
// Thread safety: PostgresDeadLetterStore and PostgresVersionRegistry are safe
// for concurrent use from many threads (one connection behind a mutex,
// reconnected when broken). The static functions use the caller's connection
// (one thread at a time).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "estoria/checkpoint_store.h"
#include "estoria/postgres/connection.h"
#include "estoria/postgres/postgres_options.h"
#include "estoria/projection/dead_letter_store.h"
#include "estoria/projection/rebuild.h"
#include "estoria/projection/versioning.h"

namespace estoria::postgres {

class PostgresProjectionTables {
 public:
  // Creates the Estoria schema (checkpoints included, via
  // PostgresCheckpointStore) and the projection tables when missing; safe to run
  // concurrently from several processes. Errors: InvalidArgument (bad schema
  // name), Unavailable, Internal.
  static Status EnsureSchema(const PostgresOptions& options);
  // Connects with the options' conninfo and timeouts. Unavailable,
  // InvalidArgument.
  static Result<std::unique_ptr<PgConnection>> Connect(const PostgresOptions& options);

  // Dead letters on the caller's connection (inside its transaction, if any).
  // Statuses as DeadLetterStore (and PgConnection errors).
  static Status ParkIn(PgConnection& conn, std::string_view schema, const DeadLetter& letter);
  static Result<std::vector<DeadLetter>> ListIn(PgConnection& conn, std::string_view schema,
                                                std::string_view projection);
  static Result<DeadLetter> GetIn(PgConnection& conn, std::string_view schema, std::string_view projection,
                                  int64_t global_position);
  static Status DiscardIn(PgConnection& conn, std::string_view schema, std::string_view projection,
                          int64_t global_position);
  static Result<int64_t> RequestReplayIn(PgConnection& conn, std::string_view schema, std::string_view projection,
                                         std::optional<int64_t> global_position);
  static Result<std::vector<int64_t>> ListReplayRequestsIn(PgConnection& conn, std::string_view schema,
                                                           std::string_view projection);
  static Status ClearReplayRequestIn(PgConnection& conn, std::string_view schema, std::string_view projection,
                                     int64_t global_position);

  // Drops tables (names validated with ValidateIdentifier, `table_schema` as
  // PostgresOptions::schema; `table_schema` "" = the connection's search_path) in one transaction, e.g. an old
  // projection version's tables after a cut-over. InvalidArgument; PgConnection errors.
  static Status DropTables(PgConnection& conn, std::string_view table_schema, const std::vector<std::string>& tables);
};

class PostgresDeadLetterStore final : public DeadLetterStore {
 public:
  // Ensures the schema, then connects. Errors as EnsureSchema.
  static Result<std::shared_ptr<PostgresDeadLetterStore>> Open(PostgresOptions options);
  PostgresDeadLetterStore(PostgresOptions options, std::unique_ptr<PgConnection> conn)
      : options_(std::move(options)), conn_(std::move(conn)) {}

  // DeadLetterStore; statuses as documented there.
  Status Park(const DeadLetter& letter) override;
  Result<std::vector<DeadLetter>> List(std::string_view projection) override;
  Result<DeadLetter> Get(std::string_view projection, int64_t global_position) override;
  Status Discard(std::string_view projection, int64_t global_position) override;
  Result<int64_t> RequestReplay(std::string_view projection, std::optional<int64_t> global_position) override;
  Result<std::vector<int64_t>> ListReplayRequests(std::string_view projection) override;
  Status ClearReplayRequest(std::string_view projection, int64_t global_position) override;
  Status RecordProcessor(std::string_view projection, std::string_view owner, std::string_view failure_policy) override;

 private:
  PostgresOptions options_;
  std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
};

class PostgresVersionRegistry final : public VersionRegistry {
 public:
  // Ensures the schema, then connects. Errors as EnsureSchema.
  static Result<std::shared_ptr<PostgresVersionRegistry>> Open(PostgresOptions options);
  PostgresVersionRegistry(PostgresOptions options, std::unique_ptr<PgConnection> conn)
      : options_(std::move(options)), conn_(std::move(conn)) {}

  // VersionRegistry; statuses as documented there.
  Result<int> ActiveVersion(std::string_view name) override;
  Status SetActiveVersion(std::string_view name, int version) override;

 private:
  PostgresOptions options_;
  std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
};

// The RebuildCatalog of a PostgreSQL read model: PostgresVersionRegistry,
// PostgresCheckpointStore, the history table projection_rebuilds (in
// options.schema), and DropTables on tables in options.schema (where
// PostgresReadModel's setup is expected to create a projection's tables).
// Thread safety: safe for concurrent use (one connection behind a mutex).
class PostgresRebuildCatalog final : public RebuildCatalog {
 public:
  // Ensures the schema, then connects. Errors as EnsureSchema.
  static Result<std::shared_ptr<PostgresRebuildCatalog>> Open(PostgresOptions options);
  PostgresRebuildCatalog(PostgresOptions options, std::shared_ptr<PostgresVersionRegistry> versions,
                         std::shared_ptr<CheckpointStore> checkpoints, std::unique_ptr<PgConnection> conn)
      : options_(std::move(options)),
        versions_(std::move(versions)),
        checkpoints_(std::move(checkpoints)),
        conn_(std::move(conn)) {}

  // RebuildCatalog; statuses as documented there.
  VersionRegistry& versions() override { return *versions_; }
  CheckpointStore& checkpoints() override { return *checkpoints_; }
  Status Record(const RebuildStep& step) override;
  Result<std::vector<RebuildStep>> History(std::string_view projection) override;
  Status DropTables(const std::vector<std::string>& tables) override;

 private:
  PostgresOptions options_;
  std::shared_ptr<PostgresVersionRegistry> versions_;
  std::shared_ptr<CheckpointStore> checkpoints_;
  std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace estoria::postgres
