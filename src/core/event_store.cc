#include "estoria/event_store.h"

namespace estoria {

Result<std::vector<Event>> Collect(EventIterator& it) {
  std::vector<Event> out;
  for (;;) {
    auto next = it.Next();
    if (!next) return next.error();
    if (!next->has_value()) return out;
    out.push_back(std::move(**next));
  }
}

}  // namespace estoria
