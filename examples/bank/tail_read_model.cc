#include "tail_read_model.h"

#include <algorithm>

namespace bank {

estoria::Result<std::unique_ptr<TailReadModel>> TailReadModel::Start(std::shared_ptr<estoria::EventStore> store,
                                                                     std::shared_ptr<AccountTable> table,
                                                                     TailReadModelOptions options) {
  if (store->global_reader() == nullptr) {
    return estoria::Status::NotSupported("the event store cannot ReadAll; a read model needs a GlobalReader");
  }
  ESTORIA_ASSIGN_OR_RETURN(int64_t checkpoint, table->LoadCheckpoint());
  if (!options.logger) options.logger = estoria::StderrLogger();
  std::unique_ptr<TailReadModel> model(new TailReadModel(std::move(store), std::move(table), options, checkpoint));
  model->thread_ = std::thread([m = model.get()] { m->Run(); });
  return model;
}

TailReadModel::TailReadModel(std::shared_ptr<estoria::EventStore> store, std::shared_ptr<AccountTable> table,
                             TailReadModelOptions options, int64_t position)
    : store_(std::move(store)),
      global_(store_->global_reader()),
      watcher_(store_->append_watcher()),
      table_(std::move(table)),
      options_(std::move(options)),
      position_(position) {}

TailReadModel::~TailReadModel() { (void)Close(); }

estoria::Result<bool> TailReadModel::Step(int64_t from) {
  estoria::ReadAllOptions read;
  read.after_position = from;
  read.count = options_.batch_size;
  ESTORIA_ASSIGN_OR_RETURN(auto it, global_->ReadAll(read));
  ESTORIA_ASSIGN_OR_RETURN(std::vector<estoria::Event> events, estoria::Collect(*it));
  if (events.empty()) return false;
  int64_t to = events.back().global_position;
  ESTORIA_RETURN_IF_ERROR(table_->Apply(events, to));
  {
    std::lock_guard lock(mu_);
    position_ = to;
    last_error_ = estoria::Status::Ok();
  }
  cv_.notify_all();
  return true;
}

void TailReadModel::WaitAfterError(int failures) {
  auto delay = std::chrono::milliseconds(std::min(50 << std::min(failures, 5), 1000));
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, delay, [&] { return stopping_; });
}

void TailReadModel::Run() {
  int failures = 0;
  for (;;) {
    int64_t from;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      from = position_;
    }
    auto step = Step(from);
    if (!step.has_value()) {
      ++failures;
      options_.logger->Log(estoria::LogLevel::kWarning, "bank read model: " + step.error().ToString());
      {
        std::lock_guard lock(mu_);
        last_error_ = step.error();
      }
      WaitAfterError(failures);
      continue;
    }
    failures = 0;
    if (*step) continue;  // more may be waiting
    if (watcher_ != nullptr) {
      auto woken = watcher_->WaitForAppend(from, options_.idle_wait);
      if (!woken.has_value()) WaitAfterError(1);
    } else {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.idle_wait, [&] { return stopping_; });
    }
  }
}

estoria::Result<AccountLookup> TailReadModel::Get(const estoria::Uuid& id) {
  AccountLookup lookup;
  lookup.position = Position();
  ESTORIA_ASSIGN_OR_RETURN(lookup.account, table_->Get(id));
  return lookup;
}

estoria::Result<AccountPage> TailReadModel::List(const ListQuery& query) {
  AccountPage page;
  page.position = Position();
  ESTORIA_ASSIGN_OR_RETURN(page.accounts, table_->List(query));
  return page;
}

estoria::Result<int64_t> TailReadModel::WaitForPosition(int64_t position, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return position_ >= position || stopping_; });
  return position_;
}

int64_t TailReadModel::Position() {
  std::lock_guard lock(mu_);
  return position_;
}

estoria::Status TailReadModel::Health() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return estoria::Status::Unavailable("the read model is stopping");
    if (!last_error_.ok()) return last_error_.WithContext("read model processor");
  }
  return table_->Ping();
}

estoria::Status TailReadModel::Close() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Every applied batch already committed its checkpoint with its rows.
  return estoria::Status::Ok();
}

}  // namespace bank
