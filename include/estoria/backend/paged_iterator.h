// estoria/backend/paged_iterator.h: iterator building blocks shared by the
// built-in backends. Not part of the stable API.
//
// Thread safety: like every EventIterator, one thread at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "estoria/event_store.h"

namespace estoria::backend {

// Yields the events of a vector it owns.
class VectorIterator : public EventIterator {
 public:
  explicit VectorIterator(std::vector<Event> events) : events_(std::move(events)) {}
  Result<std::optional<Event>> Next() override;

 private:
  std::vector<Event> events_;
  size_t next_ = 0;
};

// Pulls pages from `fetch(limit)`, which must return the next at most `limit`
// events after the ones already returned (the fetcher keeps its own cursor) and
// fewer than `limit` only at the end. Stops after `total_limit` events (0 = no
// limit). The first error is returned and then returned again on every call.
class PagedIterator : public EventIterator {
 public:
  using Fetch = std::function<Result<std::vector<Event>>(int64_t limit)>;
  PagedIterator(Fetch fetch, int64_t total_limit, int64_t page_size = 512);
  Result<std::optional<Event>> Next() override;

 private:
  Fetch fetch_;
  int64_t remaining_;  // < 0: unlimited
  int64_t page_size_;
  std::deque<Event> buffer_;
  bool exhausted_ = false;
  Status error_;
};

}  // namespace estoria::backend
