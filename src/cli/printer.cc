#include "printer.h"

#include <iomanip>

#include "estoria/backend/json_codec.h"

namespace estoria::cli {
namespace {

// A short one-line rendering of a payload for tables.
std::string Summary(const Event& e) {
  constexpr size_t kMax = 60;
  std::string text;
  if (backend::IsJsonContentType(e.content_type) || e.content_type.starts_with("text/")) {
    text = e.data;
  } else {
    text = "base64:" + backend::Base64Encode(e.data.substr(0, kMax));
  }
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() > kMax) text = text.substr(0, kMax - 3) + "...";
  return text;
}

}  // namespace

Status Printer::PrintEvent(const Event& e) {
  if (json_) {
    ESTORIA_ASSIGN_OR_RETURN(std::string line, backend::EventToJsonLine(e));
    out_ << line << '\n';
  } else {
    if (!event_header_) {
      out_ << std::left << std::setw(9) << "POSITION" << std::setw(48) << "STREAM" << std::setw(8) << "VERSION"
           << std::setw(24) << "TYPE" << std::setw(28) << "TIMESTAMP"
           << "DATA\n";
      event_header_ = true;
    }
    out_ << std::left << std::setw(9) << e.global_position << std::setw(48) << e.stream_id.ToString() << std::setw(8)
         << e.stream_version << std::setw(24) << e.type() << std::setw(28) << FormatTimestamp(e.timestamp) << Summary(e)
         << '\n';
  }
  if (flush_each_) out_.flush();
  return Status::Ok();
}

void Printer::PrintStream(const StreamInfo& s) {
  if (json_) {
    out_ << StreamToJson(s).dump() << '\n';
    return;
  }
  if (!stream_header_) {
    out_ << std::left << std::setw(48) << "STREAM" << std::setw(20) << "TYPE" << std::setw(9) << "VERSION"
         << "LAST_TIMESTAMP\n";
    stream_header_ = true;
  }
  out_ << std::left << std::setw(48) << s.stream_id.ToString() << std::setw(20) << s.stream_id.type() << std::setw(9)
       << s.version << FormatTimestamp(s.last_timestamp) << '\n';
}

void Printer::PrintObject(const Json& j) {
  if (json_) {
    out_ << j.dump() << '\n';
    return;
  }
  for (const auto& [k, v] : j.items()) out_ << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << '\n';
}

void Printer::PrintMessage(const std::string& text) {
  if (!json_) out_ << text << '\n';
}

}  // namespace estoria::cli
