// estoria/codec.h: codecs that turn typed values (event payloads, aggregate
// states) into stored bytes and back, each declaring the content type it writes.
//   JsonCodec   nlohmann-json, "application/json" (the default)
//   BytesCodec  raw bytes, "application/octet-stream"
//   CodecFor<T> the codec of T: T::Codec when T declares one, else JsonCodec
//   SchemaVersionOf<T>() T::kSchemaVersion when declared, else 1
//
// A codec is a stateless struct with
//   static constexpr std::string_view kContentType;
//   template <typename T> static Result<std::string> Encode(const T&);
//   template <typename T> static Result<T> Decode(std::string_view content_type,
//                                                std::string_view data);
// Decode honours the stored content type: a mismatch is Corruption naming both
// types. Encode errors are InvalidArgument; undecodable bytes are Corruption.
//
// Thread safety: codecs are stateless; any thread may call them at any time.
#pragma once

#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>

#include "estoria/event.h"
#include "estoria/status.h"

namespace estoria {

namespace internal {
// OK when `stored` equals `expected`, else Corruption naming both.
Status CheckContentType(std::string_view expected, std::string_view stored);
// Parses JSON text into *out. Corruption with the parser's message otherwise.
Status ParseJson(std::string_view data, nlohmann::json* out);
// Serialises *value into *out. InvalidArgument (e.g. invalid UTF-8) otherwise.
Status DumpJson(const nlohmann::json& value, std::string* out);
}  // namespace internal

struct JsonCodec {
  static constexpr std::string_view kContentType = kJsonContentType;

  template <typename T>
  static Result<std::string> Encode(const T& value) {
    nlohmann::json j;
    try {
      j = value;
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("json encode: ") + e.what());
    }
    std::string out;
    ESTORIA_RETURN_IF_ERROR(internal::DumpJson(j, &out));
    return out;
  }

  template <typename T>
  static Result<T> Decode(std::string_view content_type, std::string_view data) {
    static_assert(std::is_default_constructible_v<T>, "JsonCodec decodes into default-constructible types");
    ESTORIA_RETURN_IF_ERROR(internal::CheckContentType(kContentType, content_type));
    nlohmann::json j;
    ESTORIA_RETURN_IF_ERROR(internal::ParseJson(data, &j));
    T out{};
    try {
      j.get_to(out);
    } catch (const std::exception& e) {
      return Status::Corruption(std::string("json decode: ") + e.what());
    }
    return out;
  }
};

// Raw bytes. T is std::string, or a type with `std::string ToBytes() const` and
// `static T FromBytes(std::string_view)` (or returning Result<T>).
struct BytesCodec {
  static constexpr std::string_view kContentType = kBytesContentType;

  template <typename T>
  static Result<std::string> Encode(const T& value) {
    if constexpr (std::is_same_v<T, std::string>) {
      return value;
    } else {
      try {
        return std::string(value.ToBytes());
      } catch (const std::exception& e) {
        return Status::Internal(std::string("bytes encode: exception: ") + e.what());
      } catch (...) {
        return Status::Internal("bytes encode: unknown exception");
      }
    }
  }

  template <typename T>
  static Result<T> Decode(std::string_view content_type, std::string_view data) {
    ESTORIA_RETURN_IF_ERROR(internal::CheckContentType(kContentType, content_type));
    if constexpr (std::is_same_v<T, std::string>) {
      return std::string(data);
    } else {
      try {
        return Result<T>(T::FromBytes(data));
      } catch (const std::exception& e) {
        return Status::Corruption(std::string("bytes decode: ") + e.what());
      } catch (...) {
        return Status::Corruption("bytes decode: unknown exception");
      }
    }
  }
};

namespace internal {
template <typename T>
struct CodecOf {
  using type = JsonCodec;
};
template <typename T>
requires requires { typename T::Codec; }
struct CodecOf<T> {
  using type = typename T::Codec;
};
}  // namespace internal

// The codec of T: T::Codec when declared, else JsonCodec.
template <typename T>
using CodecFor = typename internal::CodecOf<T>::type;

// The schema version of T: T::kSchemaVersion when declared, else 1.
template <typename T>
constexpr int SchemaVersionOf() {
  if constexpr (requires { T::kSchemaVersion; }) {
    return static_cast<int>(T::kSchemaVersion);
  } else {
    return 1;
  }
}

}  // namespace estoria
