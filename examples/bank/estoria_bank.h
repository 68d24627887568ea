// estoria_bank.h: EstoriaBank, the Bank built on Estoria: the command handler
// (EventSourcedStore) over an event store, the on-demand summary folded from the
// account's stream, and a dedicated read model (a SQL table) kept by a
// projection Processor running in this process. OpenBank opens it all by URI.
//
// Thread safety: safe for concurrent use from many threads.
#pragma once

#include <memory>
#include <string>

#include "bank.h"
#include "command_handler.h"
#include "estoria/event_store.h"
#include "read_model.h"

namespace prometheus {
class Registry;
}

namespace bank {

struct BankOptions {
  // Event store URI (estoria::OpenEventStore). Default sqlite:data/bank.db.
  std::string store_uri = "sqlite:data/bank.db";
  // Read model URI: memory:, sqlite:PATH or postgres://...; empty = the default
  // of ReadModelUri. Default empty.
  std::string read_model_uri;
  // Attempts per command before 409. Default 100.
  int max_attempts = 100;
  // When set, the event store is wrapped in an estoria::metrics::InstrumentedEventStore
  // recording into this registry (labels backend = the URI's scheme, store =
  // "events"). Default null: no store metrics.
  std::shared_ptr<prometheus::Registry> metrics_registry = nullptr;
};

class EstoriaBank final : public Bank {
 public:
  EstoriaBank(std::shared_ptr<estoria::EventStore> store, std::unique_ptr<AccountReadModel> read_model,
              CommandHandlerOptions options);
  ~EstoriaBank() override;

  estoria::Result<CommandResult> ModifyBalance(const ModifyBalanceCommand& command) override;
  estoria::Result<std::optional<AccountView>> Summary(const estoria::Uuid& id) override;
  estoria::Result<AccountLookup> GetAccount(const estoria::Uuid& id) override;
  estoria::Result<AccountPage> ListAccounts(const ListQuery& query) override;
  estoria::Result<int64_t> WaitForReadModel(int64_t position, std::chrono::milliseconds timeout) override;
  estoria::Status Health() override;
  ProjectionStats Stats() override;
  estoria::Status Close() override;

 private:
  std::shared_ptr<estoria::EventStore> store_;
  std::unique_ptr<AccountReadModel> read_model_;
  AccountCommandHandler commands_;
};

// The read model URI OpenBank uses: options.read_model_uri when set; otherwise
// the event store's own database (sqlite:, postgres://), memory: for a memory:
// store, and sqlite:data/nats-<stream>-read-model.db (relative to the working
// folder) for a nats: store, which has no SQL database. InvalidArgument for
// another store without --read-model.
estoria::Result<std::string> ReadModelUri(const BankOptions& options);

// Opens the store and the read model and starts the read model's processor.
// Errors: those of OpenEventStore and of the read model's storage.
estoria::Result<std::shared_ptr<EstoriaBank>> OpenBank(const BankOptions& options);

}  // namespace bank
