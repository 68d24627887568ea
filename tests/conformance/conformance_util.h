// Helpers shared by the conformance suite sources (not installed).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "estoria/event_store.h"
#include "estoria/testing/matchers.h"

namespace estoria::testing::internal {

// Calls a suite's factory: `out` is the new store, or the test fails.
template <typename T, typename Factory>
void MakeStore(const Factory& factory, std::shared_ptr<T>& out) {
  auto made = factory();
  ASSERT_TRUE(made.has_value()) << made.error();
  out = *made;
  ASSERT_NE(out, nullptr);
}

inline TypeId NewStream(std::string_view type = "conf") { return TypeId::New(type).value(); }

inline WritableEvent Ev(std::string type = "happened", std::string data = "{}", Metadata metadata = {}) {
  WritableEvent e;
  e.type = std::move(type);
  e.data = std::move(data);
  e.metadata = std::move(metadata);
  return e;
}

inline std::vector<WritableEvent> Evs(int n, std::string type = "happened") {
  std::vector<WritableEvent> out;
  for (int i = 0; i < n; ++i) out.push_back(Ev(type, "{\"n\":" + std::to_string(i) + "}"));
  return out;
}

inline Result<std::vector<Event>> ReadStreamAll(EventStore& store, const TypeId& id, ReadStreamOptions o = {}) {
  auto it = store.ReadStream(id, o);
  if (!it) return it.error();
  return Collect(**it);
}

inline Result<std::vector<Event>> ReadAllEvents(GlobalReader& g, ReadAllOptions o = {}) {
  auto it = g.ReadAll(o);
  if (!it) return it.error();
  return Collect(**it);
}

inline std::vector<int64_t> Versions(const std::vector<Event>& events) {
  std::vector<int64_t> out;
  for (const auto& e : events) out.push_back(e.stream_version);
  return out;
}

inline std::vector<int64_t> Positions(const std::vector<Event>& events) {
  std::vector<int64_t> out;
  for (const auto& e : events) out.push_back(e.global_position);
  return out;
}

}  // namespace estoria::testing::internal

namespace estoria::testing {
// The helpers every suite source uses.
using internal::Ev;
using internal::Evs;
using internal::NewStream;
using internal::ReadAllEvents;
using internal::ReadStreamAll;
using internal::Versions;
}  // namespace estoria::testing
