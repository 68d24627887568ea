// estoria/type_id.h: Uuid (RFC 9562, version 7 for new ids) and TypeId, a type name
// plus a UUID written "type_uuid", e.g. "account_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d".
//
// Thread safety: plain values. Uuid::NewV7() may be called from any thread; ids
// generated within one process are strictly increasing.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "estoria/status.h"

namespace estoria {

class Uuid {
 public:
  Uuid() = default;  // the nil UUID
  explicit Uuid(const std::array<uint8_t, 16>& bytes) : bytes_(bytes) {}

  // A new time-ordered UUIDv7: 48-bit Unix milliseconds, then a per-process
  // monotonic counter and random bits. Strictly increasing within a process.
  static Uuid NewV7();

  // Parses the canonical 36-character lowercase or uppercase hex form
  // "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". Returns InvalidArgument otherwise.
  static Result<Uuid> Parse(std::string_view text);

  // Canonical lowercase text form.
  std::string ToString() const;
  bool IsNil() const;
  int version() const { return bytes_[6] >> 4; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }

  friend auto operator<=>(const Uuid&, const Uuid&) = default;
  friend bool operator==(const Uuid&, const Uuid&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
};

class TypeId {
 public:
  TypeId() = default;
  // Does not validate; use Make or Parse for untrusted input.
  TypeId(std::string type, Uuid uuid) : type_(std::move(type)), uuid_(uuid) {}

  // A new id of the given type with a fresh UUIDv7. InvalidArgument when the
  // type name is not valid (see ValidateTypeName).
  static Result<TypeId> New(std::string_view type);
  // Validates the type name. InvalidArgument when invalid.
  static Result<TypeId> Make(std::string_view type, Uuid uuid);
  // Exact inverse of ToString(). InvalidArgument naming the problem otherwise.
  static Result<TypeId> Parse(std::string_view text);

  // Type names are non-empty, match [a-z][a-z0-9_.]*, and do not end with '_'.
  // OK or InvalidArgument naming the offending character.
  static Status ValidateTypeName(std::string_view type);

  const std::string& type() const { return type_; }
  const Uuid& uuid() const { return uuid_; }
  std::string ToString() const;

  friend auto operator<=>(const TypeId&, const TypeId&) = default;
  friend bool operator==(const TypeId&, const TypeId&) = default;

 private:
  std::string type_;
  Uuid uuid_;
};

std::ostream& operator<<(std::ostream& os, const Uuid& u);
std::ostream& operator<<(std::ostream& os, const TypeId& id);

}  // namespace estoria

template <>
struct std::hash<estoria::Uuid> {
  size_t operator()(const estoria::Uuid& u) const noexcept;
};
template <>
struct std::hash<estoria::TypeId> {
  size_t operator()(const estoria::TypeId& id) const noexcept;
};
