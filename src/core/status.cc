#include "estoria/status.h"

#include <cstdio>
#include <cstdlib>

namespace estoria {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kConflict: return "Conflict";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kCorruption: return "Corruption";
    case StatusCode::kNotSupported: return "NotSupported";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

Status::Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

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
  s.conflict_ = std::move(details);
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s = *this;
  s.message_ = std::string(context) + ": " + message_;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  if (!message_.empty()) out += ": " + message_;
  if (events_appended_) out += " (events were appended)";
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
