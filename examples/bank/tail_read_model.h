// tail_read_model.h: TailReadModel, an AccountReadModel kept by a small
// processor thread of its own: replay from the table's checkpoint, catch up,
// then tail the store (woken by its AppendWatcher, polling as fallback). Each
// batch of events and the new checkpoint are written by AccountTable::Apply in
// one transaction, so a crash never loses or doubles an event's effect.
//
// Thread safety: safe for concurrent use from many threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "estoria/event_store.h"
#include "estoria/logger.h"
#include "read_model.h"

namespace bank {

struct TailReadModelOptions {
  // Events per ReadAll batch (one transaction each). Default 512.
  int64_t batch_size = 512;
  // Longest wait for new appends before polling again. Default 250 ms.
  std::chrono::milliseconds idle_wait{250};
  // Where processing errors are reported. Default: StderrLogger().
  std::shared_ptr<estoria::Logger> logger;
};

class TailReadModel final : public AccountReadModel {
 public:
  // Loads the checkpoint and starts the processor thread. Errors:
  // NotSupported when the store has no GlobalReader; LoadCheckpoint's errors.
  static estoria::Result<std::unique_ptr<TailReadModel>> Start(std::shared_ptr<estoria::EventStore> store,
                                                               std::shared_ptr<AccountTable> table,
                                                               TailReadModelOptions options = {});
  ~TailReadModel() override;

  estoria::Result<AccountLookup> Get(const estoria::Uuid& id) override;
  estoria::Result<AccountPage> List(const ListQuery& query) override;
  estoria::Result<int64_t> WaitForPosition(int64_t position, std::chrono::milliseconds timeout) override;
  int64_t Position() override;
  estoria::Status Health() override;
  estoria::Status Close() override;

 private:
  TailReadModel(std::shared_ptr<estoria::EventStore> store, std::shared_ptr<AccountTable> table,
                TailReadModelOptions options, int64_t position);
  void Run();
  // One ReadAll batch applied; false when there was nothing to read.
  estoria::Result<bool> Step(int64_t from);
  void WaitAfterError(int failures);

  std::shared_ptr<estoria::EventStore> store_;
  estoria::GlobalReader* global_;
  estoria::AppendWatcher* watcher_;  // may be null
  std::shared_ptr<AccountTable> table_;
  TailReadModelOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  int64_t position_;
  bool stopping_ = false;
  estoria::Status last_error_;
  std::thread thread_;
};

}  // namespace bank
