// estoria/backend/paged_iterator.h: iterator building blocks shared by the
// built-in backends. Not part of the stable API.
//
// Thread safety: like every EventIterator, one thread at a time.
#pragma once

#include <cstdint>
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

// Pulls pages from a fetcher, which must return the next at most `limit` events
// after the ones already returned (the fetcher keeps its own cursor) and fewer
// than `limit` only at the end. Stops after `total_limit` events (0 = no
// limit). The first error is returned and then returned again on every call.
//
// Two kinds of fetcher:
//   Fetch      returns each page as a new vector.
//   FetchInto  appends the page to `page`, which it is given empty. The
//              iterator keeps that one vector (and its capacity) for every page
//              and hands its events out by move, so a long scan allocates no
//              page buffer after the first. On an error the fetcher returns the
//              status; what it appended is discarded.
class PagedIterator : public EventIterator {
 public:
  using Fetch = std::function<Result<std::vector<Event>>(int64_t limit)>;
  using FetchInto = std::function<Status(int64_t limit, std::vector<Event>& page)>;
  PagedIterator(Fetch fetch, int64_t total_limit, int64_t page_size = 512);
  PagedIterator(FetchInto fetch, int64_t total_limit, int64_t page_size = 512);
  Result<std::optional<Event>> Next() override;

 private:
  FetchInto fetch_;
  int64_t remaining_;  // < 0: unlimited
  int64_t page_size_;
  std::vector<Event> page_;  // the current page; events before next_ were moved out
  size_t next_ = 0;
  bool exhausted_ = false;
  Status error_;
};

}  // namespace estoria::backend
