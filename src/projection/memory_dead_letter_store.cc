// The in-memory DeadLetterStore, and the validation shared by all stores.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "estoria/projection/dead_letter_store.h"

namespace estoria {

Status ValidateDeadLetterKey(std::string_view projection, int64_t global_position) {
  if (projection.empty()) return Status::InvalidArgument("dead letter: empty projection name");
  if (global_position < 1) return Status::InvalidArgument("dead letter: global position must be >= 1");
  return Status::Ok();
}

Result<int64_t> DeadLetterStore::RequestReplay(std::string_view, std::optional<int64_t>) {
  return Status::NotSupported("this dead-letter store does not support replay requests");
}

Result<std::vector<int64_t>> DeadLetterStore::ListReplayRequests(std::string_view) {
  return Status::NotSupported("this dead-letter store does not support replay requests");
}

Status DeadLetterStore::ClearReplayRequest(std::string_view, int64_t) {
  return Status::NotSupported("this dead-letter store does not support replay requests");
}

namespace {

class MemoryDeadLetterStore final : public DeadLetterStore {
 public:
  Status Park(const DeadLetter& letter) override {
    ESTORIA_RETURN_IF_ERROR(ValidateDeadLetterKey(letter.projection, letter.event.global_position));
    std::lock_guard<std::mutex> lock(mu_);
    letters_[{letter.projection, letter.event.global_position}] = letter;
    requested_.erase({letter.projection, letter.event.global_position});
    return Status::Ok();
  }

  Result<std::vector<DeadLetter>> List(std::string_view projection) override {
    ESTORIA_RETURN_IF_ERROR(ValidateDeadLetterKey(projection, 1));
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<DeadLetter> out;
    for (auto it = letters_.lower_bound({std::string(projection), 0});
         it != letters_.end() && it->first.first == projection; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Result<DeadLetter> Get(std::string_view projection, int64_t global_position) override {
    ESTORIA_RETURN_IF_ERROR(ValidateDeadLetterKey(projection, global_position));
    std::lock_guard<std::mutex> lock(mu_);
    auto it = letters_.find({std::string(projection), global_position});
    if (it == letters_.end()) return NotFound(projection, global_position);
    return it->second;
  }

  Status Discard(std::string_view projection, int64_t global_position) override {
    ESTORIA_RETURN_IF_ERROR(ValidateDeadLetterKey(projection, global_position));
    std::lock_guard<std::mutex> lock(mu_);
    requested_.erase({std::string(projection), global_position});
    if (letters_.erase({std::string(projection), global_position}) == 0) return NotFound(projection, global_position);
    return Status::Ok();
  }

  Result<int64_t> RequestReplay(std::string_view projection, std::optional<int64_t> global_position) override {
    ESTORIA_RETURN_IF_ERROR(ValidateDeadLetterKey(projection, global_position.value_or(1)));
    std::lock_guard<std::mutex> lock(mu_);
    if (global_position) {
      if (!letters_.contains({std::string(projection), *global_position})) {
        return NotFound(projection, *global_position);
      }
      requested_.insert({std::string(projection), *global_position});
      return 1;
    }
    int64_t n = 0;
    for (auto it = letters_.lower_bound({std::string(projection), 0});
         it != letters_.end() && it->first.first == projection; ++it, ++n) {
      requested_.insert(it->first);
    }
    return n;
  }

  Result<std::vector<int64_t>> ListReplayRequests(std::string_view projection) override {
    ESTORIA_RETURN_IF_ERROR(ValidateDeadLetterKey(projection, 1));
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int64_t> out;
    for (auto it = requested_.lower_bound({std::string(projection), 0});
         it != requested_.end() && it->first == projection; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Status ClearReplayRequest(std::string_view projection, int64_t global_position) override {
    ESTORIA_RETURN_IF_ERROR(ValidateDeadLetterKey(projection, global_position));
    std::lock_guard<std::mutex> lock(mu_);
    requested_.erase({std::string(projection), global_position});
    return Status::Ok();
  }

 private:
  static Status NotFound(std::string_view projection, int64_t position) {
    return Status::NotFound("no parked event at position " + std::to_string(position) + " for projection " +
                            std::string(projection));
  }
  std::mutex mu_;
  std::map<std::pair<std::string, int64_t>, DeadLetter> letters_;
  std::set<std::pair<std::string, int64_t>> requested_;  // pending replay requests (always parked)
};

}  // namespace

std::shared_ptr<DeadLetterStore> NewMemoryDeadLetterStore() { return std::make_shared<MemoryDeadLetterStore>(); }

}  // namespace estoria
