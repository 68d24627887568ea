#include "estoria/status.h"

#include <cstdio>
#include <cstdlib>

namespace estoria {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kConflict:
      return "Conflict";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kNotSupported:
      return "NotSupported";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

Status::Status(StatusCode code, std::string message) {
  if (code == StatusCode::kOk) return;
  rep_ = new Rep{};
  rep_->code = code;
  rep_->message = std::move(message);
}

void Status::UnrefNonNull(Rep* rep) noexcept {
  if (rep->immortal) return;
  // acq_rel: the last owner's delete must see every other owner's accesses.
  if (rep->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete rep;
}

Status::Rep* Status::MovedFromRep() noexcept {
  // Never freed, so that a moved-from Status destroyed during static
  // destruction still points to a live record.
  static Rep* const rep = [] {
    Rep* r = new Rep{};
    r->immortal = true;
    r->code = StatusCode::kInternal;
    r->message = "Status accessed after move";
    return r;
  }();
  return rep;
}

const std::string& Status::EmptyString() noexcept {
  static const std::string empty;  // not constinit: clang 14 with libstdc++ 12 rejects it
  return empty;
}

const std::optional<ConflictDetails>& Status::NoConflict() noexcept {
  static const std::optional<ConflictDetails> none;
  return none;
}

Status::Rep* Status::MutableRep() {
  // Acquire pairs with the release half of other owners' decrements: their
  // reads of the record happen before this owner modifies it in place.
  if (!rep_->immortal && rep_->refs.load(std::memory_order_acquire) == 1) return rep_;
  Rep* copy = new Rep{};
  copy->events_appended = rep_->events_appended;
  copy->code = rep_->code;
  copy->message = rep_->message;
  copy->conflict = rep_->conflict;
  Unref(rep_);
  rep_ = copy;
  return rep_;
}

Status& Status::MarkEventsAppended() & {
  if (rep_ != nullptr && !rep_->events_appended) MutableRep()->events_appended = true;
  return *this;
}

Status Status::Conflict(ConflictDetails details) {
  std::string msg = "stream " + details.stream_id + ": expected ";
  if (details.expected_version < 0) {
    msg += "the stream to exist";
  } else if (details.expected_version == 0) {
    msg += "no stream (version 0)";
  } else {
    msg += "version " + std::to_string(details.expected_version);
  }
  msg += ", found version " + std::to_string(details.actual_version);
  Status s(StatusCode::kConflict, std::move(msg));
  s.rep_->conflict = std::move(details);  // s's record is its own
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s(code(), std::string(context) + ": " + message());
  s.rep_->events_appended = rep_->events_appended;
  s.rep_->conflict = rep_->conflict;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code()));
  if (!message().empty()) out += ": " + message();
  if (events_appended()) out += " (events were appended)";
  return out;
}

std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.ToString(); }

namespace internal {
void DieOnBadResultAccess(const Status& s) {
  std::fprintf(stderr, "estoria: Result::value() called on an error: %s\n", s.ToString().c_str());
  std::abort();
}
}  // namespace internal

}  // namespace estoria
