// estoria cli: Printer writes events and streams to stdout, either as aligned
// human-readable rows (the default) or as JSON lines (--json).
//
// Thread safety: one thread at a time.
#pragma once

#include <ostream>
#include <string>

#include "estoria/event.h"
#include "estoria/event_store.h"
#include "event_json.h"

namespace estoria::cli {

class Printer {
 public:
  Printer(std::ostream& out, bool json) : out_(out), json_(json) {}

  bool json() const { return json_; }
  // Rows are flushed at once when `flush_each` (used by read-all --follow).
  void set_flush_each(bool f) { flush_each_ = f; }

  // InvalidArgument when --json is on and the event has no JSON form
  // (metadata that is not UTF-8).
  Status PrintEvent(const Event& e);
  void PrintStream(const StreamInfo& s);
  // A JSON object as one line (--json), or "key: value" lines for humans.
  void PrintObject(const Json& j);
  // A one-line human message; with --json, nothing (use PrintObject).
  void PrintMessage(const std::string& text);

 private:
  std::ostream& out_;
  bool json_;
  bool flush_each_ = false;
  bool event_header_ = false;
  bool stream_header_ = false;
};

}  // namespace estoria::cli
