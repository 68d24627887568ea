#include "estoria/backend/paged_iterator.h"

#include <algorithm>

namespace estoria::backend {

Result<std::optional<Event>> VectorIterator::Next() {
  if (next_ >= events_.size()) return std::optional<Event>();
  return std::optional<Event>(std::move(events_[next_++]));
}

PagedIterator::PagedIterator(Fetch fetch, int64_t total_limit, int64_t page_size)
    : fetch_(std::move(fetch)),
      remaining_(total_limit > 0 ? total_limit : -1),
      page_size_(std::max<int64_t>(page_size, 1)) {}

Result<std::optional<Event>> PagedIterator::Next() {
  if (!error_.ok()) return error_;
  if (remaining_ == 0) return std::optional<Event>();
  if (buffer_.empty() && !exhausted_) {
    int64_t want = remaining_ < 0 ? page_size_ : std::min(page_size_, remaining_);
    auto page = fetch_(want);
    if (!page.has_value()) {
      error_ = page.error();
      return error_;
    }
    if (static_cast<int64_t>(page->size()) < want) exhausted_ = true;
    for (auto& e : *page) buffer_.push_back(std::move(e));
  }
  if (buffer_.empty()) return std::optional<Event>();
  std::optional<Event> out(std::move(buffer_.front()));
  buffer_.pop_front();
  if (remaining_ > 0) --remaining_;
  return out;
}

}  // namespace estoria::backend
