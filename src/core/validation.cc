// The backend SDK's validation (estoria/backend/validation.h), shared by every
// built-in backend.
#include "estoria/backend/validation.h"

#include <string>
#include <unordered_set>

#include "estoria/backend/json_codec.h"
#include "reserved_metadata.h"

namespace estoria::backend {

namespace {
// The value for an error message: printable ASCII as is, other bytes as \xNN,
// at most 80 bytes of it.
std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size() && i < 80; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (text.size() > 80) out += "...";
  return out;
}

Status ValidateStreamId(const TypeId& stream_id) {
  Status st = TypeId::ValidateTypeName(stream_id.type());
  if (!st.ok()) return st.WithContext("invalid stream id");
  return Status::Ok();
}
}  // namespace

Status ValidateAppend(const TypeId& stream_id, std::span<const WritableEvent> events, const AppendOptions& options,
                      const EventLimits& limits) {
  ESTORIA_RETURN_IF_ERROR(ValidateStreamId(stream_id));
  if (events.empty()) return Status::InvalidArgument("append to " + stream_id.ToString() + ": no events");
  if (options.expect_version.has_value() && options.stream_state != StreamState::kAny) {
    return Status::InvalidArgument("append to " + stream_id.ToString() +
                                   ": expect_version and stream_state are mutually exclusive");
  }
  if (options.expect_version.has_value() && *options.expect_version < 0) {
    return Status::InvalidArgument("append to " + stream_id.ToString() + ": negative expect_version " +
                                   std::to_string(*options.expect_version));
  }
  std::unordered_set<Uuid> ids;
  for (size_t i = 0; i < events.size(); ++i) {
    const WritableEvent& e = events[i];
    // Built only for an error message: most appends never need it.
    auto where = [&] { return "append to " + stream_id.ToString() + ": event " + std::to_string(i); };
    Status st = TypeId::ValidateTypeName(e.type);
    if (!st.ok()) return st.WithContext(where() + ": event type");
    if (e.id.has_value()) {
      if (e.id->IsNil()) return Status::InvalidArgument(where() + ": nil event id");
      if (!ids.insert(*e.id).second) {
        return Status::InvalidArgument(where() + ": duplicate event id " + e.id->ToString() + " in one append");
      }
    }
    if (!e.metadata.empty()) ESTORIA_RETURN_IF_ERROR(ValidateMetadataText(e.metadata, where()));
    for (const auto& [key, value] : e.metadata) {
      if (!internal::ReservedMetadataAllowed() && key.rfind(kReservedMetadataPrefix, 0) == 0) {
        return Status::InvalidArgument(where() + ": metadata key \"" + key + "\" uses the reserved prefix \"" +
                                       std::string(kReservedMetadataPrefix) + "\"");
      }
      if (key.empty()) return Status::InvalidArgument(where() + ": empty metadata key");
    }
    if (static_cast<int64_t>(e.data.size()) > limits.max_event_data_bytes || !e.metadata.empty()) {
      ESTORIA_RETURN_IF_ERROR(CheckEventSize(where(), e.data, e.metadata, limits));
    }
  }
  return Status::Ok();
}

Status CheckEventSize(std::string_view where, const std::string& data, const Metadata& metadata,
                      const EventLimits& limits) {
  const auto data_bytes = static_cast<int64_t>(data.size());
  if (data_bytes > limits.max_event_data_bytes) {
    return Status::InvalidArgument(std::string(where) + ": data of " + std::to_string(data_bytes) +
                                   " bytes exceeds max_event_data_bytes (" +
                                   std::to_string(limits.max_event_data_bytes) + ")");
  }
  int64_t metadata_bytes = 0;
  for (const auto& [key, value] : metadata) metadata_bytes += static_cast<int64_t>(key.size() + value.size());
  if (metadata_bytes > limits.max_event_metadata_bytes) {
    return Status::InvalidArgument(std::string(where) + ": metadata of " + std::to_string(metadata_bytes) +
                                   " bytes exceeds max_event_metadata_bytes (" +
                                   std::to_string(limits.max_event_metadata_bytes) + ")");
  }
  return Status::Ok();
}

Status ValidateEventLimits(std::string_view what, const EventLimits& limits, int64_t physical_max) {
  auto check = [&](const char* name, int64_t v) {
    if (v >= 1 && v <= physical_max) return Status::Ok();
    return Status::InvalidArgument(std::string(what) + ": " + name + " " + std::to_string(v) + " is outside [1, " +
                                   std::to_string(physical_max) + "]");
  };
  ESTORIA_RETURN_IF_ERROR(check("max_event_data_bytes", limits.max_event_data_bytes));
  return check("max_event_metadata_bytes", limits.max_event_metadata_bytes);
}

Status ValidateMetadataText(const Metadata& metadata, std::string_view where) {
  // A key that is not UTF-8 is shown with its bytes escaped, so that the
  // message itself stays valid UTF-8 (it may be written out as JSON).
  auto printable = [](std::string_view text) {
    if (IsValidUtf8(text, /*allow_nul=*/false)) return std::string(text);
    std::string out;
    static const char* kHex = "0123456789abcdef";
    for (unsigned char c : text) {
      if (c >= 0x20 && c < 0x7f) {
        out += static_cast<char>(c);
      } else {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      }
    }
    return out;
  };
  for (const auto& [key, value] : metadata) {
    if (!IsValidUtf8(key)) {
      return Status::InvalidArgument(std::string(where) + ": metadata key \"" + printable(key) +
                                     "\" is not valid UTF-8");
    }
    if (!IsValidUtf8(value)) {
      return Status::InvalidArgument(std::string(where) + ": metadata value of \"" + printable(key) +
                                     "\" is not valid UTF-8");
    }
  }
  return Status::Ok();
}

Status ValidateReadStream(const TypeId& stream_id, const ReadStreamOptions& options) {
  ESTORIA_RETURN_IF_ERROR(ValidateStreamId(stream_id));
  if (options.after_version < 0) return Status::InvalidArgument("ReadStream: negative after_version");
  if (options.count < 0) return Status::InvalidArgument("ReadStream: negative count");
  return Status::Ok();
}

Status ValidateReadAll(const ReadAllOptions& options) {
  if (options.after_position < 0) return Status::InvalidArgument("ReadAll: negative after_position");
  if (options.count < 0) return Status::InvalidArgument("ReadAll: negative count");
  for (const auto& t : options.stream_types) {
    Status st = TypeId::ValidateTypeName(t);
    if (!st.ok()) return st.WithContext("ReadAll: stream type filter");
  }
  for (const auto& t : options.event_types) {
    Status st = TypeId::ValidateTypeName(t);
    if (!st.ok()) return st.WithContext("ReadAll: event type filter");
  }
  return Status::Ok();
}

Status CheckExpectation(const TypeId& stream_id, const AppendOptions& options, bool exists, int64_t version) {
  int64_t actual = exists ? version : 0;
  if (options.expect_version.has_value()) {
    if (*options.expect_version != actual) {
      return Status::Conflict(ConflictDetails{stream_id.ToString(), *options.expect_version, actual});
    }
  } else if (options.stream_state == StreamState::kMustNotExist) {
    if (exists) return Status::Conflict(ConflictDetails{stream_id.ToString(), 0, actual});
  } else if (options.stream_state == StreamState::kMustExist) {
    if (!exists) return Status::Conflict(ConflictDetails{stream_id.ToString(), -1, 0});
  }
  return Status::Ok();
}

Status ClassifyStoredIds(const TypeId& stream_id, std::span<const WritableEvent> events, const AppendOptions& options,
                         std::span<const std::optional<StoredEventLocation>> stored) {
  size_t found = 0;
  for (const auto& loc : stored) found += loc.has_value() ? 1 : 0;
  if (found == 0) return Status::Ok();
  bool exact = found == events.size() && stored.size() == events.size();
  for (size_t i = 0; exact && i < stored.size(); ++i) {
    exact = stored[i]->stream_id == stream_id &&
            stored[i]->stream_version == stored[0]->stream_version + static_cast<int64_t>(i);
  }
  if (exact && options.expect_version.has_value()) exact = *options.expect_version == stored[0]->stream_version - 1;
  if (exact) {
    return Status::AlreadyExists("append to " + stream_id.ToString() + ": events already appended at versions " +
                                 std::to_string(stored[0]->stream_version) + ".." +
                                 std::to_string(stored[0]->stream_version + static_cast<int64_t>(found) - 1));
  }
  for (size_t i = 0; i < stored.size(); ++i) {
    if (stored[i].has_value()) {
      return Status::InvalidArgument("append to " + stream_id.ToString() + ": event id " + events[i].id->ToString() +
                                     " is already stored in stream " + stored[i]->stream_id.ToString() +
                                     " at version " + std::to_string(stored[i]->stream_version));
    }
  }
  return Status::Ok();
}

Status ValidateSnapshot(const Snapshot& s) {
  Status st = TypeId::ValidateTypeName(s.aggregate_id.type());
  if (!st.ok()) return st.WithContext("snapshot: invalid aggregate id");
  if (s.version < 1) return Status::InvalidArgument("snapshot: version must be >= 1, got " + std::to_string(s.version));
  return Status::Ok();
}

Status ValidateCheckpoint(std::string_view name, int64_t position) {
  if (name.empty()) return Status::InvalidArgument("checkpoint: empty name");
  if (name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("checkpoint name \"" + Printable(name) + "\" contains a NUL byte");
  }
  if (position < 0) return Status::InvalidArgument("checkpoint " + std::string(name) + ": negative position");
  return Status::Ok();
}

Status ValidateDeadLetterKey(std::string_view projection, int64_t global_position) {
  if (projection.empty()) return Status::InvalidArgument("dead letter: empty projection name");
  if (projection.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("dead letter: projection name \"" + Printable(projection) +
                                   "\" contains a NUL byte");
  }
  if (global_position < 1) return Status::InvalidArgument("dead letter: global position must be >= 1");
  return Status::Ok();
}

Status ValidateProjectionName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("empty projection name");
  if (name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("projection name \"" + Printable(name) + "\" contains a NUL byte");
  }
  return Status::Ok();
}

Status ValidateSqlIdentifier(std::string_view what, std::string_view name, size_t max_bytes) {
  std::string problem;
  if (name.empty()) {
    problem = "it is empty";
  } else if (name.size() > max_bytes) {
    problem = "it has " + std::to_string(name.size()) + " bytes, more than " + std::to_string(max_bytes);
  } else if (name[0] >= '0' && name[0] <= '9') {
    problem = "it starts with a digit";
  } else {
    for (size_t i = 0; i < name.size() && problem.empty(); ++i) {
      char c = name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
        problem = "byte " + std::to_string(i) + " ('" + Printable(name.substr(i, 1)) + "') is not in [a-z0-9_]";
      }
    }
  }
  if (problem.empty()) return Status::Ok();
  return Status::InvalidArgument(
      std::string(what) + " \"" + Printable(name) + "\" is not a valid SQL identifier: " + problem +
      " (it must match [a-z_][a-z0-9_]* and have 1 to " + std::to_string(max_bytes) + " bytes)");
}

}  // namespace estoria::backend
