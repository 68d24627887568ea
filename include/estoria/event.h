// estoria/event.h: the event values exchanged with event stores.
//   Event          a stored event, as every read returns it
//   WritableEvent  an event to append
//   Metadata       string key/value pairs carried beside the payload
//   Timestamp      microseconds since the Unix epoch (UTC)
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "estoria/status.h"
#include "estoria/type_id.h"

namespace estoria {

using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;
using Metadata = std::map<std::string, std::string>;

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kBytesContentType = "application/octet-stream";
// Metadata keys starting with this prefix are reserved for Estoria itself.
inline constexpr std::string_view kReservedMetadataPrefix = "estoria.";

// The current time truncated to microseconds.
Timestamp Now();
// RFC 3339 in UTC with microseconds, e.g. "2026-11-26T02:32:13.123456Z". An
// instant outside years 0000..9999 is written with its true (longer or
// negative) year, which ParseTimestamp refuses.
std::string FormatTimestamp(Timestamp t);
// Parses RFC 3339 ("Z" or a +hh:mm offset; fraction up to 9 digits, truncated to
// microseconds). InvalidArgument otherwise, or when the instant falls outside
// years 0000..9999 in UTC (e.g. 9999-12-31T23:30:00-01:00).
Result<Timestamp> ParseTimestamp(std::string_view text);

struct WritableEvent {
  // Event type name, validated like a TypeId type name.
  std::string type{};
  // Optional caller-chosen id for idempotent appends; a UUIDv7 is assigned when
  // absent. Re-appending the same ids reports AlreadyExists instead of
  // writing duplicates.
  std::optional<Uuid> id{};
  // Payload bytes, stored verbatim (binary safe, may be empty).
  std::string data{};
  // Content type of data. Default application/json.
  std::string content_type = std::string(kJsonContentType);
  // Keys starting with "estoria." are rejected with InvalidArgument.
  Metadata metadata{};
};

struct Event {
  TypeId id{};                  // event type + event UUID
  TypeId stream_id{};           // stream type + stream UUID
  int64_t stream_version = 0;   // 1-based, gap-free within the stream
  int64_t global_position = 0;  // 1-based position in the store's global log
  Timestamp timestamp{};        // commit time, microsecond precision
  std::string content_type{};
  std::string data{};
  Metadata metadata{};

  const std::string& type() const { return id.type(); }
  friend bool operator==(const Event&, const Event&) = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e);

}  // namespace estoria
