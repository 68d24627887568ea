// event_codec.h (internal): conversions between Estoria values and PostgreSQL
// rows and parameters.
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "estoria/event.h"
#include "estoria/event_store.h"
#include "estoria/postgres/connection.h"

namespace estoria::postgres::internal {

// PostgreSQL text and jsonb values must be valid UTF-8 without NUL bytes.
// Checks content types and metadata of an append: OK or InvalidArgument.
Status ValidateStorable(const TypeId& stream_id, std::span<const WritableEvent> events);

// An event from a row selected with kEventColumns (binary format), starting at
// column 0. Corruption for an undecodable row.
Result<Event> EventFromRow(const postgres::PgResult& res, int row);

// A PostgreSQL array literal of strings: {"a","b"} with quotes and
// backslashes escaped.
std::string TextArray(std::span<const std::string> values);

}  // namespace estoria::postgres::internal
