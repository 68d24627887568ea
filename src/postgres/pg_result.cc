// PgResult, PgParams, PgErrorStatus and QuoteIdentifier (see connection.h).
#include <array>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "estoria/postgres/connection.h"
#include "pg_wire.h"

namespace estoria::postgres {
namespace {

// Microseconds between the Unix epoch and the PostgreSQL epoch (2000-01-01).
constexpr int64_t kPgEpochOffsetMicros = 946684800LL * 1000000LL;

uint64_t ReadBigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string BigEndian(uint64_t v, int n) {
  std::string out(static_cast<size_t>(n), '\0');
  for (int i = n - 1; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

Status PgErrorStatus(PGconn* conn, const PGresult* res, std::string_view context) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = res ? PQresultErrorMessage(res) : (conn ? PQerrorMessage(conn) : "no connection");
  if (message.empty() && conn) message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string_view sqlstate = state ? state : "";
  std::string text = std::string(context) + ": " + message;
  if (!sqlstate.empty()) text += " [SQLSTATE " + std::string(sqlstate) + "]";
  bool lost = conn == nullptr || PQstatus(conn) == CONNECTION_BAD;
  if (lost || StartsWith(sqlstate, "08") || StartsWith(sqlstate, "57P0") || StartsWith(sqlstate, "53") ||
      sqlstate == "55P03" || sqlstate == "57014" || sqlstate == "40001" || sqlstate == "40P01") {
    return Status::Unavailable(std::move(text));
  }
  if (sqlstate == "23505") return Status::AlreadyExists(std::move(text));
  if (StartsWith(sqlstate, "23")) return Status::FailedPrecondition(std::move(text));
  if (StartsWith(sqlstate, "22")) return Status::InvalidArgument(std::move(text));
  return Status::Internal(std::move(text));
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// ---- PgResult ----------------------------------------------------------------

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (res_) PQclear(res_);
    res_ = other.res_;
    other.res_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (res_) PQclear(res_);
}

int64_t PgResult::affected_rows() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_);
  return (n && *n) ? std::strtoll(n, nullptr, 10) : 0;
}

std::string_view PgResult::Raw(int row, int col) const {
  return std::string_view(PQgetvalue(res_, row, col), static_cast<size_t>(PQgetlength(res_, row, col)));
}

int64_t PgResult::Int64(int row, int col) const {
  if (IsNull(row, col)) return 0;
  std::string_view v = Raw(row, col);
  if (PQfformat(res_, col) == 0) return std::strtoll(std::string(v).c_str(), nullptr, 10);
  switch (v.size()) {
    case 2:
      return static_cast<int16_t>(ReadBigEndian(v.data(), 2));
    case 4:
      return static_cast<int32_t>(ReadBigEndian(v.data(), 4));
    case 8:
      return static_cast<int64_t>(ReadBigEndian(v.data(), 8));
    default:
      return 0;
  }
}

Uuid PgResult::UuidAt(int row, int col) const {
  if (IsNull(row, col)) return Uuid();
  std::string_view v = Raw(row, col);
  if (PQfformat(res_, col) == 0) return Uuid::Parse(v).value_or(Uuid());
  if (v.size() != 16) return Uuid();
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), v.data(), 16);
  return Uuid(bytes);
}

Timestamp PgResult::TimestampAt(int row, int col) const {
  if (IsNull(row, col)) return Timestamp{};
  std::string_view v = Raw(row, col);
  if (PQftype(res_, col) == kInt8Oid) return Timestamp(std::chrono::microseconds(Int64(row, col)));
  if (PQfformat(res_, col) == 0 || v.size() != 8) return Timestamp{};
  int64_t pg = static_cast<int64_t>(ReadBigEndian(v.data(), 8));
  // 'infinity' is INT64_MAX: saturate instead of overflowing.
  int64_t unix_micros = 0;
  if (__builtin_add_overflow(pg, kPgEpochOffsetMicros, &unix_micros)) {
    unix_micros = pg > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return Timestamp(std::chrono::microseconds(unix_micros));
}

std::string PgResult::String(int row, int col) const {
  if (IsNull(row, col)) return std::string();
  std::string_view v = Raw(row, col);
  if (PQfformat(res_, col) == 1 && PQftype(res_, col) == kJsonbOid && !v.empty()) v.remove_prefix(1);
  return std::string(v);
}

// ---- PgParams ----------------------------------------------------------------

PgParams& PgParams::Text(std::string_view value, Oid type) {
  values_.emplace_back(std::string(value));
  formats_.push_back(0);
  types_.push_back(type);
  return *this;
}

PgParams& PgParams::Bytes(std::string_view value) {
  values_.emplace_back(std::string(value));
  formats_.push_back(1);
  types_.push_back(kByteaOid);
  return *this;
}

PgParams& PgParams::Int64(int64_t value) {
  values_.emplace_back(BigEndian(static_cast<uint64_t>(value), 8));
  formats_.push_back(1);
  types_.push_back(kInt8Oid);
  return *this;
}

PgParams& PgParams::Int32(int32_t value) {
  values_.emplace_back(BigEndian(static_cast<uint32_t>(value), 4));
  formats_.push_back(1);
  types_.push_back(kInt4Oid);
  return *this;
}

PgParams& PgParams::UuidValue(const Uuid& value) {
  const auto& b = value.bytes();
  values_.emplace_back(std::string(reinterpret_cast<const char*>(b.data()), b.size()));
  formats_.push_back(1);
  types_.push_back(kUuidOid);
  return *this;
}

PgParams& PgParams::TimestampValue(Timestamp value) {
  values_.emplace_back(PgBinaryTimestamp(value));
  formats_.push_back(1);
  types_.push_back(kTimestamptzOid);
  return *this;
}

PgParams& PgParams::Null(Oid type) {
  values_.emplace_back(std::nullopt);
  formats_.push_back(0);
  types_.push_back(type);
  return *this;
}

PgParams& PgParams::Binary(std::string_view bytes, Oid type) {
  values_.emplace_back(std::string(bytes));
  formats_.push_back(1);
  types_.push_back(type);
  return *this;
}

std::string PgBinaryArray(Oid element_type, const std::vector<std::string>& elements) {
  std::string out;
  size_t total = 20;
  for (const auto& e : elements) total += 4 + e.size();
  out.reserve(total);
  out += BigEndian(1, 4);  // dimensions
  out += BigEndian(0, 4);  // flags: no NULLs
  out += BigEndian(element_type, 4);
  out += BigEndian(elements.size(), 4);  // length of the dimension
  out += BigEndian(1, 4);                // lower bound
  for (const auto& e : elements) {
    out += BigEndian(e.size(), 4);
    out += e;
  }
  return out;
}

std::string PgBinaryInt64(int64_t value) { return BigEndian(static_cast<uint64_t>(value), 8); }

std::string PgBinaryTimestamp(Timestamp value) {
  return PgBinaryInt64(value.time_since_epoch().count() - kPgEpochOffsetMicros);
}

std::string PgBinaryUuid(const Uuid& value) {
  return std::string(reinterpret_cast<const char*>(value.bytes().data()), value.bytes().size());
}

std::string PgBinaryJsonb(std::string_view json_text) {
  std::string out = "\x01";  // appended, not "\x01" + ...: GCC 12 -O3 warns -Wrestrict falsely
  out += json_text;
  return out;
}

PgParams::Raw PgParams::raw() const {
  Raw r;
  r.values.reserve(values_.size());
  for (const auto& v : values_) {
    r.values.push_back(v ? v->data() : nullptr);
    r.lengths.push_back(v ? static_cast<int>(v->size()) : 0);
  }
  r.formats = formats_;
  r.types = types_;
  return r;
}

}  // namespace estoria::postgres
