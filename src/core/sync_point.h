// sync_point.h: test-only sync points (internal; not installed), after
// rocksdb's TEST_SYNC_POINT.
//
// A sync point is a named place in library code where a test can run its own
// code, e.g. to hold a writer inside its open transaction:
//
//   // library code
//   ESTORIA_TEST_SYNC_POINT("PostgresAppendWriter::BeforeCommit");
//
//   // test code
//   auto* sp = estoria::testing_internal::SyncPoint::Get();
//   sp->SetCallback("PostgresAppendWriter::BeforeCommit", [&](void*) { gate.Wait(); });
//   ...
//   sp->ClearCallback("PostgresAppendWriter::BeforeCommit");
//
// The macros expand to nothing (their arguments are not evaluated) unless the
// build defines ESTORIA_ENABLE_SYNC_POINTS, and the SyncPoint registry exists
// only in such builds: release builds carry no trace of them. Tests that need
// sync points guard themselves with #ifdef ESTORIA_ENABLE_SYNC_POINTS and skip
// otherwise.
//
//   ESTORIA_TEST_SYNC_POINT(name)                 runs name's callback (arg null)
//   ESTORIA_TEST_SYNC_POINT_CALLBACK(name, arg)   runs it with a void* argument
//   ESTORIA_TEST_SYNC_POINT_ARMED(name)           true when name has a callback
//                                                 (for code that must take a
//                                                 slower path to offer the point;
//                                                 constant false when disabled)
//
// Thread safety: every SyncPoint method may be called from any thread. A
// callback runs on the thread that reaches the point, outside the registry's
// lock: it may block (other threads still pass other points, or the same one)
// and may set or clear callbacks itself. Clearing a callback does not wait for
// a call of it already under way.
#pragma once

#ifdef ESTORIA_ENABLE_SYNC_POINTS

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace estoria::testing_internal {

class SyncPoint {
 public:
  using Callback = std::function<void(void*)>;

  // The process-wide registry (never destroyed).
  static SyncPoint* Get();

  // Registers `callback` for `name`, replacing any earlier one.
  void SetCallback(const std::string& name, Callback callback);
  // Removes name's callback, if any.
  void ClearCallback(const std::string& name);
  // Removes every callback.
  void ClearAll();

  // True when a callback is registered for `name`. Lock-free while the
  // registry is empty.
  bool Armed(std::string_view name) const;
  // Runs name's callback with `arg`, if one is registered.
  void Process(std::string_view name, void* arg = nullptr) const;

 private:
  SyncPoint() = default;
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::shared_ptr<const Callback> Find(std::string_view name) const;

  mutable std::mutex mu_;
  // shared_ptr: a call in progress keeps its callback alive past ClearCallback.
  std::unordered_map<std::string, std::shared_ptr<const Callback>, NameHash, std::equal_to<>> callbacks_;
  std::atomic<size_t> size_{0};  // callbacks_.size(), for the lock-free fast path
};

// Sets a callback for the scope's lifetime (cleared on exit, including on a
// failed ASSERT's early return).
class ScopedSyncPointCallback {
 public:
  ScopedSyncPointCallback(std::string name, SyncPoint::Callback callback) : name_(std::move(name)) {
    SyncPoint::Get()->SetCallback(name_, std::move(callback));
  }
  ~ScopedSyncPointCallback() { SyncPoint::Get()->ClearCallback(name_); }
  ScopedSyncPointCallback(const ScopedSyncPointCallback&) = delete;
  ScopedSyncPointCallback& operator=(const ScopedSyncPointCallback&) = delete;

 private:
  std::string name_;
};

}  // namespace estoria::testing_internal

#define ESTORIA_TEST_SYNC_POINT(name) ::estoria::testing_internal::SyncPoint::Get()->Process(name)
#define ESTORIA_TEST_SYNC_POINT_CALLBACK(name, arg) ::estoria::testing_internal::SyncPoint::Get()->Process(name, arg)
#define ESTORIA_TEST_SYNC_POINT_ARMED(name) ::estoria::testing_internal::SyncPoint::Get()->Armed(name)

#else  // !ESTORIA_ENABLE_SYNC_POINTS

#define ESTORIA_TEST_SYNC_POINT(name) static_cast<void>(0)
#define ESTORIA_TEST_SYNC_POINT_CALLBACK(name, arg) static_cast<void>(0)
#define ESTORIA_TEST_SYNC_POINT_ARMED(name) false

#endif  // ESTORIA_ENABLE_SYNC_POINTS
