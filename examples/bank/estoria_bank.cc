#include "estoria_bank.h"

#include <filesystem>

#include "estoria/open.h"
#include "memory_account_table.h"
#include "tail_read_model.h"

namespace bank {
namespace {

// sqlite:PATH[?options]: creates PATH's folder so that the default
// sqlite:data/bank.db works from a fresh checkout.
void CreateSqliteFolder(std::string_view uri) {
  if (!uri.starts_with("sqlite:")) return;
  std::string_view path = uri.substr(7);
  path = path.substr(0, path.find('?'));
  if (path.empty() || path == ":memory:" || path.starts_with("file:")) return;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
}

estoria::Result<std::unique_ptr<AccountReadModel>> OpenReadModel(const std::string& uri,
                                                                 std::shared_ptr<estoria::EventStore> store) {
  if (uri == "memory:" || uri == "memory") {
    ESTORIA_ASSIGN_OR_RETURN(auto model, TailReadModel::Start(store, std::make_shared<MemoryAccountTable>()));
    return std::unique_ptr<AccountReadModel>(std::move(model));
  }
  return estoria::Status::NotSupported("read model URI \"" + uri + "\" is not supported (yet)");
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
  ProjectionStats stats;
  stats.position = read_model_->Position();
  if (estoria::GlobalReader* global = store_->global_reader()) {
    stats.head_position = global->HeadPosition().value_or(stats.position);
  }
  return stats;
}

estoria::Status EstoriaBank::Close() { return read_model_->Close(); }

estoria::Result<std::shared_ptr<EstoriaBank>> OpenBank(const BankOptions& options) {
  CreateSqliteFolder(options.store_uri);
  ESTORIA_ASSIGN_OR_RETURN(std::shared_ptr<estoria::EventStore> store, estoria::OpenEventStore(options.store_uri));
  std::string read_model_uri = options.read_model_uri.empty() ? options.store_uri : options.read_model_uri;
  if (read_model_uri != options.store_uri) CreateSqliteFolder(read_model_uri);
  ESTORIA_ASSIGN_OR_RETURN(std::unique_ptr<AccountReadModel> read_model, OpenReadModel(read_model_uri, store));
  return std::make_shared<EstoriaBank>(std::move(store), std::move(read_model),
                                       CommandHandlerOptions{options.max_attempts});
}

}  // namespace bank
