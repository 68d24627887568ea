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

// Decodes the rows of one scan as EventFromRow does (same events, same
// Corruption for the same rows) into an Event the caller provides, reading
// the values in place (no intermediate strings). It keeps the last stream id
// and event type it validated, so that a row repeating them (consecutive
// events of one stream, of one type) is not parsed again: a byte-for-byte
// equal text validated before is valid again. Empty metadata ("{}") is
// recognised without a JSON parse. Everything else is checked as in
// EventFromRow.
//
// Thread safety: one thread at a time (it is a scan's own state).
class EventRowDecoder {
 public:
  // `out` should be empty or moved-from; every field is assigned. Corruption
  // for an undecodable row (then `out` holds a partly decoded event).
  Status Decode(const postgres::PgResult& res, int row, Event& out);

 private:
  std::string stream_text_;  // column 1 of the last row whose stream id parsed
  TypeId stream_;
  std::string type_text_;  // the last event type that validated
};

// A PostgreSQL array literal of strings: {"a","b"} with quotes and
// backslashes escaped.
std::string TextArray(std::span<const std::string> values);

}  // namespace estoria::postgres::internal
