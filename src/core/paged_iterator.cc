#include "estoria/backend/paged_iterator.h"

#include <algorithm>

namespace estoria::backend {

Result<std::optional<Event>> VectorIterator::Next() {
  if (next_ >= events_.size()) return std::optional<Event>();
  return std::optional<Event>(std::move(events_[next_++]));
}

PagedIterator::PagedIterator(Fetch fetch, int64_t total_limit, int64_t page_size)
    : PagedIterator(FetchInto([fetch = std::move(fetch)](int64_t limit, std::vector<Event>& page) -> Status {
                      auto next = fetch(limit);
                      if (!next.has_value()) return next.error();
                      page = *std::move(next);
                      return Status::Ok();
                    }),
                    total_limit, page_size) {}

PagedIterator::PagedIterator(FetchInto fetch, int64_t total_limit, int64_t page_size)
    : fetch_(std::move(fetch)),
      remaining_(total_limit > 0 ? total_limit : -1),
      page_size_(std::max<int64_t>(page_size, 1)) {}

Result<std::optional<Event>> PagedIterator::Next() {
  if (!error_.ok()) return error_;
  if (remaining_ == 0) return std::optional<Event>();
  if (next_ >= page_.size()) {
    if (exhausted_) return std::optional<Event>();
    const int64_t want = remaining_ < 0 ? page_size_ : std::min(page_size_, remaining_);
    // Moved-from events hold no heap memory; clear() keeps the capacity.
    page_.clear();
    next_ = 0;
    if (page_.capacity() == 0) page_.reserve(static_cast<size_t>(want));
    Status st = fetch_(want, page_);
    if (!st.ok()) {
      page_.clear();
      error_ = std::move(st);
      return error_;
    }
    if (static_cast<int64_t>(page_.size()) < want) exhausted_ = true;
    if (page_.empty()) return std::optional<Event>();
  }
  if (remaining_ > 0) --remaining_;
  // Built in place in the Result: one move of the Event, not three.
  return Result<std::optional<Event>>(std::move(page_[next_++]));
}

}  // namespace estoria::backend
