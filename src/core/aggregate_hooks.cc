// Non-template helpers of HookableStore.
#include <exception>
#include <string>

#include "estoria/hookable_store.h"

namespace estoria::internal {

Status RunHook(std::string_view kind, const std::function<Status()>& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return Status::Internal(std::string(kind) + " threw: " + e.what());
  } catch (...) {
    return Status::Internal(std::string(kind) + " threw an unknown exception");
  }
}

}  // namespace estoria::internal
