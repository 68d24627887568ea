// Helpers shared by the projection tests: temporary directories, and the fold
// that SQL read models in these tests must equal (per stream: sum of "n" and
// event count).
#pragma once

#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "estoria/event_store.h"
#include "estoria/memory/memory_stores.h"
#include "estoria/projection/projection_sink.h"
#include "estoria/testing/temp_dir.h"

namespace estoria::testing {

struct Totals {
  int64_t total = 0;
  int64_t events = 0;
  friend bool operator==(const Totals&, const Totals&) = default;
};
using TotalsByStream = std::map<std::string, Totals>;

inline int64_t EventN(const Event& e) {
  auto j = nlohmann::json::parse(e.data, nullptr, false);
  return j.is_object() && j.contains("n") ? j["n"].get<int64_t>() : 0;
}

// Appends `n` events of type "added" (data = {"n": i}) spread over `streams`
// streams of type "counter"; returns the last global position.
inline Result<int64_t> AppendEvents(EventStore& store, int n, int streams = 4) {
  std::vector<TypeId> ids;
  for (int s = 0; s < streams; ++s) ids.push_back(TypeId("counter", Uuid::NewV7()));
  int64_t last = 0;
  for (int i = 0; i < n; ++i) {
    WritableEvent e;
    e.type = "added";
    e.data = "{\"n\":" + std::to_string(i) + "}";
    ESTORIA_ASSIGN_OR_RETURN(auto appended, store.AppendStream(ids[i % streams], {&e, 1}));
    last = appended.back().global_position;
  }
  return last;
}

// The fold of the whole log: what a correct read model holds.
inline Result<TotalsByStream> FoldLog(GlobalReader& reader) {
  ESTORIA_ASSIGN_OR_RETURN(auto it, reader.ReadAll());
  TotalsByStream out;
  for (;;) {
    ESTORIA_ASSIGN_OR_RETURN(auto e, it->Next());
    if (!e) break;
    Totals& t = out[e->stream_id.ToString()];
    t.total += EventN(*e);
    t.events += 1;
  }
  return out;
}

// A HandlerSink keeping its checkpoints in `checkpoints` (default: a new
// in-memory store) and parking dead letters in a new in-memory store.
inline std::shared_ptr<HandlerSink> MemoryDeadLetterSink(EventHandler handler,
                                                         std::shared_ptr<CheckpointStore> checkpoints = nullptr) {
  if (!checkpoints) checkpoints = memory::MemoryCheckpointStore::Open().value();
  return std::make_shared<HandlerSink>(std::move(handler), std::move(checkpoints),
                                       memory::MemoryDeadLetterStore::Open().value());
}

}  // namespace estoria::testing
