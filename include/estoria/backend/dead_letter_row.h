// estoria/backend/dead_letter_row.h: the row form of a DeadLetter shared by the
// SQL dead-letter stores (backend SDK): the columns, in kDeadLetterColumns
// order, as plain values a backend binds and reads with its own driver.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "estoria/projection/dead_letter_store.h"

namespace estoria::backend {

// The column names, in DeadLetterRow order (after the projection name).
inline constexpr const char* kDeadLetterColumns =
    "global_position, event_id, stream_id, stream_version, timestamp_us, content_type, data, metadata, error, "
    "attempts, parked_at_us";

struct DeadLetterRow {
  int64_t global_position = 0;
  std::string event_id;   // TypeId text
  std::string stream_id;  // TypeId text
  int64_t stream_version = 0;
  int64_t timestamp_us = 0;
  std::string content_type;
  std::string data;      // bytes
  std::string metadata;  // metadata JSON (estoria/backend/json_codec.h)
  std::string error;
  int64_t attempts = 0;
  int64_t parked_at_us = 0;
};

// The row of a letter. InvalidArgument for a bad key (ValidateDeadLetterKey) or
// metadata without a JSON form.
Result<DeadLetterRow> ToDeadLetterRow(const DeadLetter& letter);
// The letter of a stored row. Corruption naming the bad column.
Result<DeadLetter> FromDeadLetterRow(std::string_view projection, const DeadLetterRow& row);

}  // namespace estoria::backend
