#include "read_model.h"

namespace bank {

AccountReadModel::AccountReadModel(std::unique_ptr<estoria::Processor> processor,
                                   std::shared_ptr<AccountQueries> queries)
    : processor_(std::move(processor)), queries_(std::move(queries)) {}

AccountReadModel::~AccountReadModel() { (void)Close(); }

estoria::Result<AccountLookup> AccountReadModel::Get(const estoria::Uuid& id) {
  AccountLookup lookup;
  lookup.position = processor_->state().position;
  ESTORIA_ASSIGN_OR_RETURN(lookup.account, queries_->Get(id));
  return lookup;
}

estoria::Result<AccountPage> AccountReadModel::List(const ListQuery& query) {
  AccountPage page;
  page.position = processor_->state().position;
  ESTORIA_ASSIGN_OR_RETURN(page.accounts, queries_->List(query));
  return page;
}

estoria::Result<int64_t> AccountReadModel::WaitForPosition(int64_t position, std::chrono::milliseconds timeout) {
  estoria::Status status = processor_->WaitForPosition(position, timeout);
  if (status.IsFailedPrecondition()) return estoria::Status::Unavailable("read model processor: " + status.message());
  if (!status.ok() && !status.IsUnavailable()) return status;
  return processor_->state().position;  // < position after a timeout
}

estoria::ProcessorState AccountReadModel::State() const { return processor_->state(); }

estoria::Status AccountReadModel::Health() {
  estoria::ProcessorState state = processor_->state();
  if (state.phase == estoria::ProcessorPhase::kFailed || state.phase == estoria::ProcessorPhase::kStopped ||
      state.phase == estoria::ProcessorPhase::kIdle) {
    return estoria::Status::Unavailable("read model processor is " +
                                        std::string(estoria::ProcessorPhaseName(state.phase)) +
                                        (state.last_error.ok() ? "" : ": " + state.last_error.ToString()));
  }
  return queries_->Ping();
}

estoria::Status AccountReadModel::Close() { return processor_->Stop(); }

}  // namespace bank
