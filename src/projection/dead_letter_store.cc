// DeadLetterStore's default (unsupported) replay-request operations and the
// default (no-op) RecordProcessor.
#include "estoria/projection/dead_letter_store.h"

namespace estoria {

Result<int64_t> DeadLetterStore::RequestReplay(std::string_view, std::optional<int64_t>) {
  return Status::NotSupported("this dead-letter store does not support replay requests");
}

Result<std::vector<int64_t>> DeadLetterStore::ListReplayRequests(std::string_view) {
  return Status::NotSupported("this dead-letter store does not support replay requests");
}

Status DeadLetterStore::ClearReplayRequest(std::string_view, int64_t) {
  return Status::NotSupported("this dead-letter store does not support replay requests");
}

Status DeadLetterStore::RecordProcessor(std::string_view, std::string_view, std::string_view) { return Status::Ok(); }

}  // namespace estoria
