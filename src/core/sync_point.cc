// SyncPoint: the registry behind ESTORIA_TEST_SYNC_POINT (sync_point.h). Built
// only with ESTORIA_ENABLE_SYNC_POINTS.
#include "sync_point.h"

#ifdef ESTORIA_ENABLE_SYNC_POINTS

#include <utility>

namespace estoria::testing_internal {

SyncPoint* SyncPoint::Get() {
  static SyncPoint* const instance = new SyncPoint();  // never destroyed: points may run during exit
  return instance;
}

void SyncPoint::SetCallback(const std::string& name, Callback callback) {
  auto shared = std::make_shared<const Callback>(std::move(callback));
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_[name] = std::move(shared);
  size_.store(callbacks_.size(), std::memory_order_release);
}

void SyncPoint::ClearCallback(const std::string& name) {
  std::shared_ptr<const Callback> removed;  // destroyed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callbacks_.find(name);
  if (it == callbacks_.end()) return;
  removed = std::move(it->second);
  callbacks_.erase(it);
  size_.store(callbacks_.size(), std::memory_order_release);
}

void SyncPoint::ClearAll() {
  std::unordered_map<std::string, std::shared_ptr<const Callback>, NameHash, std::equal_to<>> removed;
  std::lock_guard<std::mutex> lock(mu_);
  removed.swap(callbacks_);
  size_.store(0, std::memory_order_release);
}

std::shared_ptr<const SyncPoint::Callback> SyncPoint::Find(std::string_view name) const {
  if (size_.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callbacks_.find(name);
  return it == callbacks_.end() ? nullptr : it->second;
}

bool SyncPoint::Armed(std::string_view name) const { return Find(name) != nullptr; }

void SyncPoint::Process(std::string_view name, void* arg) const {
  std::shared_ptr<const Callback> callback = Find(name);
  if (callback && *callback) (*callback)(arg);
}

}  // namespace estoria::testing_internal

#endif  // ESTORIA_ENABLE_SYNC_POINTS
