// The in-memory DeadLetterStore and VersionRegistry.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "estoria/backend/validation.h"
#include "estoria/memory/memory_stores.h"

namespace estoria {}  // namespace estoria

namespace estoria::memory {

namespace {
Status NotFound(std::string_view projection, int64_t position) {
  return Status::NotFound("no parked event at position " + std::to_string(position) + " for projection " +
                          std::string(projection));
}
}  // namespace

Status MemoryDeadLetterStore::Park(const DeadLetter& letter) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(letter.projection, letter.event.global_position));
  std::lock_guard<std::mutex> lock(mu_);
  letters_[{letter.projection, letter.event.global_position}] = letter;
  requested_.erase({letter.projection, letter.event.global_position});
  return Status::Ok();
}

Result<std::vector<DeadLetter>> MemoryDeadLetterStore::List(std::string_view projection) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, 1));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DeadLetter> out;
  for (auto it = letters_.lower_bound({std::string(projection), 0});
       it != letters_.end() && it->first.first == projection; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<DeadLetter> MemoryDeadLetterStore::Get(std::string_view projection, int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = letters_.find({std::string(projection), global_position});
  if (it == letters_.end()) return NotFound(projection, global_position);
  return it->second;
}

Status MemoryDeadLetterStore::Discard(std::string_view projection, int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  std::lock_guard<std::mutex> lock(mu_);
  requested_.erase({std::string(projection), global_position});
  if (letters_.erase({std::string(projection), global_position}) == 0) return NotFound(projection, global_position);
  return Status::Ok();
}

Result<int64_t> MemoryDeadLetterStore::RequestReplay(std::string_view projection,
                                                     std::optional<int64_t> global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position.value_or(1)));
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

Result<std::vector<int64_t>> MemoryDeadLetterStore::ListReplayRequests(std::string_view projection) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, 1));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int64_t> out;
  for (auto it = requested_.lower_bound({std::string(projection), 0});
       it != requested_.end() && it->first == projection; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Status MemoryDeadLetterStore::ClearReplayRequest(std::string_view projection, int64_t global_position) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateDeadLetterKey(projection, global_position));
  std::lock_guard<std::mutex> lock(mu_);
  requested_.erase({std::string(projection), global_position});
  return Status::Ok();
}

Result<std::shared_ptr<MemoryDeadLetterStore>> MemoryDeadLetterStore::Open() {
  return std::make_shared<MemoryDeadLetterStore>();
}

Result<int> MemoryVersionRegistry::ActiveVersion(std::string_view name) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(name));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = versions_.find(std::string(name));
  if (it == versions_.end()) return Status::NotFound("no active version for projection " + std::string(name));
  return it->second;
}
Status MemoryVersionRegistry::SetActiveVersion(std::string_view name, int version) {
  ESTORIA_RETURN_IF_ERROR(backend::ValidateProjectionName(name));
  if (version < 1) return Status::InvalidArgument("projection version must be >= 1");
  std::lock_guard<std::mutex> lock(mu_);
  versions_[std::string(name)] = version;
  return Status::Ok();
}

Result<std::shared_ptr<MemoryVersionRegistry>> MemoryVersionRegistry::Open() {
  return std::make_shared<MemoryVersionRegistry>();
}

}  // namespace estoria::memory
