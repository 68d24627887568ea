// The URI registry behind OpenEventStore (estoria/backend/registry.h).
#include "estoria/backend/registry.h"

#include <cctype>
#include <map>
#include <mutex>

namespace estoria::backend {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, EventStoreOpener, std::less<>> openers;
};

Registry& Get() {
  static Registry* registry = new Registry();  // never destroyed: usable during static destruction
  return *registry;
}

bool ValidScheme(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

Status RegisterEventStoreScheme(std::string_view scheme, EventStoreOpener opener) {
  if (!ValidScheme(scheme)) return Status::InvalidArgument("invalid URI scheme \"" + std::string(scheme) + "\"");
  if (!opener) return Status::InvalidArgument("URI scheme \"" + std::string(scheme) + "\": null opener");
  Registry& r = Get();
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.openers.emplace(std::string(scheme), std::move(opener)).second) {
    return Status::AlreadyExists("URI scheme \"" + std::string(scheme) + "\" is already registered");
  }
  return Status::Ok();
}

Result<EventStoreOpener> FindEventStoreScheme(std::string_view scheme) {
  Registry& r = Get();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.openers.find(scheme);
  if (it == r.openers.end())
    return Status::NotFound("no backend registered for URI scheme \"" + std::string(scheme) + "\"");
  return it->second;
}

std::vector<std::string> RegisteredEventStoreSchemes() {
  Registry& r = Get();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [scheme, opener] : r.openers) out.push_back(scheme);
  return out;
}

}  // namespace estoria::backend
