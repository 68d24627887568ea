#include "estoria_bank.h"

#include <filesystem>

#include "estoria/memory/memory_stores.h"
#include "estoria/open.h"
#include "estoria/prometheus/instrumented_event_store.h"
#include "memory_accounts.h"
#ifdef BANK_WITH_SQLITE
#include "estoria/sqlite/sqlite_read_model.h"
#include "sqlite_accounts.h"
#endif
#ifdef BANK_WITH_POSTGRES
#include "estoria/postgres/postgres_options.h"
#include "estoria/postgres/postgres_read_model.h"
#include "postgres_accounts.h"
#endif

namespace bank {
namespace {

bool IsPostgresUri(std::string_view uri) { return uri.starts_with("postgres://") || uri.starts_with("postgresql://"); }

// The value of a query parameter of a URI ("" when absent).
std::string QueryParameter(std::string_view uri, std::string_view key) {
  size_t q = uri.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = uri.substr(q + 1);
  while (!rest.empty()) {
    std::string_view pair = rest.substr(0, rest.find('&'));
    rest = pair.size() < rest.size() ? rest.substr(pair.size() + 1) : std::string_view();
    if (pair.starts_with(key) && pair.size() > key.size() && pair[key.size()] == '=') {
      return std::string(pair.substr(key.size() + 1));
    }
  }
  return "";
}

// "sqlite:PATH[?options]" -> PATH ("" for sqlite::memory:).
std::string SqlitePath(std::string_view uri) {
  std::string_view path = uri.substr(7);
  path = path.substr(0, path.find('?'));
  if (path == ":memory:") return "";
  return std::string(path);
}

// Creates the folder of a sqlite: URI's file, so that the default
// sqlite:data/bank.db works from a fresh checkout.
void CreateSqliteFolder(std::string_view uri) {
  if (!uri.starts_with("sqlite:")) return;
  std::filesystem::path parent = std::filesystem::path(SqlitePath(uri)).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
}

estoria::ProcessorOptions BaseProcessorOptions() {
  estoria::ProcessorOptions options;
  options.name = std::string(kReadModelName);
  options.stream_types = {std::string(kAccountStreamType)};
  // Small batches: on the event store's own SQLite file, a batch holds the
  // write lock while it commits.
  options.batch_size = 64;
  options.poll_interval = std::chrono::milliseconds(250);
  options.retry_interval = std::chrono::milliseconds(200);
  options.failure_policy = estoria::FailurePolicy::Retry(5);
  return options;
}

estoria::Result<std::unique_ptr<AccountReadModel>> StartReadModel(std::shared_ptr<estoria::EventStore> store,
                                                                  std::shared_ptr<estoria::ProjectionSink> sink,
                                                                  std::shared_ptr<AccountQueries> queries,
                                                                  estoria::ProcessorOptions options) {
  // Serve queries only once the processor has resumed from its checkpoint (after
  // a crash of a previous server, that includes taking over its lease).
  ESTORIA_ASSIGN_OR_RETURN(int64_t checkpoint, sink->LoadPosition(options.name));
  std::shared_ptr<estoria::Logger> logger = options.logger ? options.logger : estoria::StderrLogger();
  ESTORIA_ASSIGN_OR_RETURN(std::unique_ptr<estoria::Processor> processor,
                           estoria::Processor::Create(std::move(store), std::move(sink), std::move(options)));
  ESTORIA_RETURN_IF_ERROR(processor->Start());
  estoria::Status resumed = processor->WaitForPosition(checkpoint, std::chrono::seconds(15));
  if (!resumed.ok()) {
    logger->Log(estoria::LogLevel::kWarning, "bank read model has not resumed from its checkpoint " +
                                                 std::to_string(checkpoint) + " yet: " + resumed.ToString());
  }
  return std::make_unique<AccountReadModel>(std::move(processor), std::move(queries));
}

estoria::Result<std::unique_ptr<AccountReadModel>> OpenReadModel(const std::string& uri,
                                                                 std::shared_ptr<estoria::EventStore> store) {
  estoria::ProcessorOptions options = BaseProcessorOptions();
  if (uri == "memory:" || uri == "memory") {
    auto accounts = std::make_shared<MemoryAccounts>();
    auto sink = std::make_shared<estoria::HandlerSink>(
        [accounts](const estoria::Event& event) { return accounts->Apply(event); },
        estoria::memory::MemoryCheckpointStore::Open().value(), estoria::memory::MemoryDeadLetterStore::Open().value());
    return StartReadModel(std::move(store), std::move(sink), accounts, std::move(options));
  }
#ifdef BANK_WITH_SQLITE
  if (uri.starts_with("sqlite:")) {
    std::string path = SqlitePath(uri);
    if (path.empty()) {
      return estoria::Status::InvalidArgument("read model " + uri +
                                              ": an in-memory SQLite database cannot be shared; use --read-model "
                                              "memory: or a file");
    }
    estoria::sqlite::SqliteReadModelOptions model_options;
    model_options.path = path;
    model_options.setup = SetupSqliteAccounts;
    ESTORIA_ASSIGN_OR_RETURN(std::shared_ptr<estoria::sqlite::SqliteReadModel> model,
                             estoria::sqlite::SqliteReadModel::Open(model_options, ApplySqliteAccountEvent));
    options.lock = model;
    return StartReadModel(std::move(store), model, std::make_shared<SqliteAccounts>(path), std::move(options));
  }
#endif
#ifdef BANK_WITH_POSTGRES
  if (IsPostgresUri(uri)) {
    ESTORIA_ASSIGN_OR_RETURN(estoria::postgres::PostgresOptions pg, estoria::postgres::ParsePostgresUri(uri));
    estoria::postgres::PostgresReadModelOptions model_options;
    model_options.conninfo = pg.conninfo;
    model_options.schema = pg.schema;
    std::string schema = pg.schema;
    model_options.setup = [schema](estoria::postgres::PgConnection& conn) {
      return SetupPostgresAccounts(conn, schema);
    };
    ESTORIA_ASSIGN_OR_RETURN(
        std::shared_ptr<estoria::postgres::PostgresReadModel> model,
        estoria::postgres::PostgresReadModel::Open(
            model_options, [schema](estoria::postgres::PgConnection& conn, const estoria::Event& event) {
              return ApplyPostgresAccountEvent(conn, schema, event);
            }));
    options.lock = model;
    return StartReadModel(std::move(store), model, std::make_shared<PostgresAccounts>(pg.conninfo, pg.schema),
                          std::move(options));
  }
#endif
  return estoria::Status::InvalidArgument("read model URI \"" + uri +
                                          "\": expected sqlite:PATH, postgres://... or memory:");
}

}  // namespace

EstoriaBank::EstoriaBank(std::shared_ptr<estoria::EventStore> store, std::unique_ptr<AccountReadModel> read_model,
                         CommandHandlerOptions options)
    : store_(std::move(store)), read_model_(std::move(read_model)), commands_(store_, options) {}

EstoriaBank::~EstoriaBank() { (void)Close(); }

estoria::Result<CommandResult> EstoriaBank::ModifyBalance(const ModifyBalanceCommand& command) {
  return commands_.ModifyBalance(command);
}

estoria::Result<std::optional<AccountView>> EstoriaBank::Summary(const estoria::Uuid& id) {
  return FoldAccount(*store_, id);
}

estoria::Result<AccountLookup> EstoriaBank::GetAccount(const estoria::Uuid& id) { return read_model_->Get(id); }

estoria::Result<AccountPage> EstoriaBank::ListAccounts(const ListQuery& query) { return read_model_->List(query); }

estoria::Result<int64_t> EstoriaBank::WaitForReadModel(int64_t position, std::chrono::milliseconds timeout) {
  return read_model_->WaitForPosition(position, timeout);
}

estoria::Status EstoriaBank::Health() {
  if (estoria::GlobalReader* global = store_->global_reader()) {
    auto head = global->HeadPosition();
    if (!head.has_value()) return head.error().WithContext("event store");
  }
  return read_model_->Health();
}

ProjectionStats EstoriaBank::Stats() {
  estoria::ProcessorState state = read_model_->State();
  ProjectionStats stats;
  stats.position = state.position;
  stats.head_position = state.head_position;
  stats.lag_seconds = std::chrono::duration<double>(state.lag_time).count();
  stats.phase = std::string(estoria::ProcessorPhaseName(state.phase));
  stats.events_handled = state.events_handled;
  if (estoria::GlobalReader* global = store_->global_reader()) {
    auto head = global->HeadPosition();
    if (head.has_value()) stats.head_position = *head;
  }
  return stats;
}

estoria::Status EstoriaBank::Close() { return read_model_->Close(); }

estoria::Result<std::string> ReadModelUri(const BankOptions& options) {
  if (options.read_model_uri == "memory") return std::string("memory:");
  if (!options.read_model_uri.empty()) return options.read_model_uri;
  const std::string& store = options.store_uri;
  if (store.starts_with("memory")) return std::string("memory:");
  if (store.starts_with("sqlite:") || IsPostgresUri(store)) return store;
  if (store.starts_with("nats:")) {
    // A JetStream stream has no SQL database: the read model (and with it the
    // projection's checkpoint) goes to a SQLite file of its own, one per stream.
    std::string stream = QueryParameter(store, "stream");
    return "sqlite:data/nats-" + (stream.empty() ? std::string("estoria") : stream) + "-read-model.db";
  }
  return estoria::Status::InvalidArgument("event store " + store +
                                          " has no SQL database for the read model: pass --read-model "
                                          "sqlite:PATH, postgres://... or memory:");
}

estoria::Result<std::shared_ptr<EstoriaBank>> OpenBank(const BankOptions& options) {
  ESTORIA_ASSIGN_OR_RETURN(std::string read_model_uri, ReadModelUri(options));
  CreateSqliteFolder(options.store_uri);
  std::string store_uri = options.store_uri;
  // PostgreSQL: every HTTP worker may read a stream at once; the store's default
  // pool (4 connections) would make them queue. Unless the URI says otherwise.
  if (IsPostgresUri(store_uri) && store_uri.find("estoria_pool_size=") == std::string::npos) {
    store_uri += (store_uri.find('?') == std::string::npos ? "?" : "&") + std::string("estoria_pool_size=16");
  }
  ESTORIA_ASSIGN_OR_RETURN(std::shared_ptr<estoria::EventStore> store, estoria::OpenEventStore(store_uri));
  if (options.metrics_registry != nullptr) {
    std::string backend = store_uri.substr(0, store_uri.find(':'));
    if (backend == "postgresql") backend = "postgres";
    ESTORIA_ASSIGN_OR_RETURN(
        store, estoria::metrics::InstrumentedEventStore::Create(std::move(store), options.metrics_registry,
                                                                {.labels = {.backend = backend, .store = "events"}}));
  }
  if (read_model_uri != options.store_uri) CreateSqliteFolder(read_model_uri);
  ESTORIA_ASSIGN_OR_RETURN(std::unique_ptr<AccountReadModel> read_model, OpenReadModel(read_model_uri, store));
  return std::make_shared<EstoriaBank>(std::move(store), std::move(read_model),
                                       CommandHandlerOptions{options.max_attempts});
}

}  // namespace bank
