// HandlerSink: the generic at-least-once sink, and CallHandler.
#include <exception>
#include <string>
#include <utility>

#include "estoria/projection/projection_sink.h"

namespace estoria {

Status CallHandler(const std::function<Status()>& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("handler threw: ") + e.what());
  } catch (...) {
    return Status::Internal("handler threw a non-standard exception");
  }
}

namespace {
// Stands in for a null dead-letter store: every operation is InvalidArgument.
class MissingDeadLetterStore final : public DeadLetterStore {
 public:
  Status Park(const DeadLetter&) override { return Missing(); }
  Result<std::vector<DeadLetter>> List(std::string_view) override { return Missing(); }
  Result<DeadLetter> Get(std::string_view, int64_t) override { return Missing(); }
  Status Discard(std::string_view, int64_t) override { return Missing(); }

 private:
  static Status Missing() { return Status::InvalidArgument("HandlerSink: null dead-letter store"); }
};
}  // namespace

HandlerSink::HandlerSink(EventHandler handler, std::shared_ptr<CheckpointStore> checkpoints,
                         std::shared_ptr<DeadLetterStore> dead_letters)
    : handler_(std::move(handler)),
      checkpoints_(std::move(checkpoints)),
      dead_letters_(dead_letters ? std::move(dead_letters) : std::make_shared<MissingDeadLetterStore>()) {}

Result<int64_t> HandlerSink::LoadPosition(std::string_view name) {
  if (checkpoints_ == nullptr) return Status::InvalidArgument("HandlerSink: null checkpoint store");
  return checkpoints_->Load(name);
}

Status HandlerSink::Apply(const Event& event) {
  if (!handler_) return Status::InvalidArgument("HandlerSink: empty handler");
  return CallHandler([&] { return handler_(event); });
}

Status HandlerSink::Park(const DeadLetter& letter) { return dead_letters_->Park(letter); }

Status HandlerSink::Commit(std::string_view name, int64_t position) {
  if (checkpoints_ == nullptr) return Status::InvalidArgument("HandlerSink: null checkpoint store");
  return checkpoints_->Save(name, position);
}

Status HandlerSink::Replay(std::string_view name, int64_t global_position) {
  return ReplayWith(name, global_position, nullptr);
}

Status HandlerSink::ReplayWith(std::string_view name, int64_t global_position, const EventTransform& transform) {
  ESTORIA_ASSIGN_OR_RETURN(DeadLetter letter, dead_letters_->Get(name, global_position));
  if (transform) ESTORIA_RETURN_IF_ERROR(CallHandler([&] { return transform(letter.event); }));
  ESTORIA_RETURN_IF_ERROR(Apply(letter.event));
  return dead_letters_->Discard(name, global_position);
}

}  // namespace estoria
