#include "estoria/type_id.h"

#include <chrono>
#include <cstring>
#include <mutex>
#include <random>

namespace estoria {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// State for UUIDv7 generation: 48-bit ms timestamp + 12-bit counter (rand_a)
// seeded randomly each new millisecond, so ids are strictly increasing per
// process even within one millisecond (RFC 9562 §6.2 method 1).
struct V7State {
  std::mutex mu;
  std::mt19937_64 rng{std::random_device{}()};
  uint64_t last_ms = 0;
  uint32_t counter = 0;  // 12 bits used (rand_a) + extends into rand_b's top bits
};

V7State& State() {
  static V7State* state = new V7State();
  return *state;
}

}  // namespace

Uuid Uuid::NewV7() {
  V7State& st = State();
  uint64_t ms;
  uint32_t counter;
  uint64_t rand_b;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    if (ms > st.last_ms) {
      st.last_ms = ms;
      st.counter = static_cast<uint32_t>(st.rng() & 0x1FFFFF);  // leave headroom
    } else {
      ms = st.last_ms;
      ++st.counter;
      if (st.counter >= (1u << 26)) {  // counter space exhausted: borrow next ms
        ++st.last_ms;
        ms = st.last_ms;
        st.counter = 0;
      }
    }
    counter = st.counter;
    rand_b = st.rng();
  }
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  // 26-bit counter: 12 bits in rand_a, 14 bits at the top of rand_b.
  uint32_t hi12 = (counter >> 14) & 0xFFF;
  uint32_t lo14 = counter & 0x3FFF;
  b[6] = static_cast<uint8_t>(0x70 | (hi12 >> 8));
  b[7] = static_cast<uint8_t>(hi12 & 0xFF);
  b[8] = static_cast<uint8_t>(0x80 | (lo14 >> 8));
  b[9] = static_cast<uint8_t>(lo14 & 0xFF);
  for (int i = 10; i < 16; ++i) b[i] = static_cast<uint8_t>(rand_b >> (8 * (i - 10)));
  return Uuid(b);
}

Result<Uuid> Uuid::Parse(std::string_view text) {
  if (text.size() != 36) {
    return Status::InvalidArgument("invalid UUID \"" + std::string(text) + "\": expected 36 characters, got " +
                                   std::to_string(text.size()));
  }
  std::array<uint8_t, 16> b{};
  size_t bi = 0;
  for (size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return Status::InvalidArgument("invalid UUID \"" + std::string(text) + "\": expected '-' at offset " +
                                       std::to_string(i));
      }
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = i + 1 < 36 ? HexValue(text[i + 1]) : -1;
    if (hi < 0 || lo < 0) {
      size_t bad = hi < 0 ? i : i + 1;
      return Status::InvalidArgument("invalid UUID \"" + std::string(text) + "\": bad hex digit at offset " +
                                     std::to_string(bad));
    }
    b[bi++] = static_cast<uint8_t>(hi << 4 | lo);
    ++i;
  }
  return Uuid(b);
}

std::string Uuid::ToString() const {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes_[i] >> 4]);
    out.push_back(kHex[bytes_[i] & 0xF]);
  }
  return out;
}

bool Uuid::IsNil() const {
  for (uint8_t c : bytes_)
    if (c != 0) return false;
  return true;
}

Status TypeId::ValidateTypeName(std::string_view type) {
  if (type.empty()) return Status::InvalidArgument("invalid type name: empty");
  if (type.size() > 255) return Status::InvalidArgument("invalid type name: longer than 255 characters");
  if (!(type[0] >= 'a' && type[0] <= 'z')) {
    return Status::InvalidArgument("invalid type name \"" + std::string(type) +
                                   "\": must start with a lowercase letter a-z");
  }
  for (size_t i = 0; i < type.size(); ++i) {
    char c = type[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) {
      return Status::InvalidArgument("invalid type name \"" + std::string(type) + "\": character '" +
                                     std::string(1, c) + "' at offset " + std::to_string(i) +
                                     " (allowed: a-z 0-9 _ .)");
    }
  }
  if (type.back() == '_') {
    return Status::InvalidArgument("invalid type name \"" + std::string(type) + "\": must not end with '_'");
  }
  return Status::Ok();
}

Result<TypeId> TypeId::New(std::string_view type) { return Make(type, Uuid::NewV7()); }

Result<TypeId> TypeId::Make(std::string_view type, Uuid uuid) {
  ESTORIA_RETURN_IF_ERROR(ValidateTypeName(type));
  return TypeId(std::string(type), uuid);
}

Result<TypeId> TypeId::Parse(std::string_view text) {
  // The UUID is the last 36 characters, preceded by '_'.
  if (text.size() < 38 || text[text.size() - 37] != '_') {
    return Status::InvalidArgument("invalid TypeId \"" + std::string(text) +
                                   "\": expected <type>_<uuid>, e.g. account_0190f1c2-8d5e-7a3b-9c1d-2e3f4a5b6c7d");
  }
  std::string_view type = text.substr(0, text.size() - 37);
  std::string_view uuid_text = text.substr(text.size() - 36);
  Status st = ValidateTypeName(type);
  if (!st.ok()) return st.WithContext("invalid TypeId \"" + std::string(text) + "\"");
  auto uuid = Uuid::Parse(uuid_text);
  if (!uuid) return uuid.error().WithContext("invalid TypeId \"" + std::string(text) + "\"");
  // Parse is the exact inverse of ToString: reject uppercase hex (checked on
  // the text, without formatting the UUID back).
  if (uuid_text.find_first_of("ABCDEF") != std::string_view::npos) {
    return Status::InvalidArgument("invalid TypeId \"" + std::string(text) + "\": UUID must be lowercase");
  }
  return TypeId(std::string(type), *uuid);
}

std::string TypeId::ToString() const { return type_ + "_" + uuid_.ToString(); }

std::ostream& operator<<(std::ostream& os, const Uuid& u) { return os << u.ToString(); }
std::ostream& operator<<(std::ostream& os, const TypeId& id) { return os << id.ToString(); }

}  // namespace estoria

size_t std::hash<estoria::Uuid>::operator()(const estoria::Uuid& u) const noexcept {
  uint64_t a, b;
  std::memcpy(&a, u.bytes().data(), 8);
  std::memcpy(&b, u.bytes().data() + 8, 8);
  return static_cast<size_t>(a * 0x9E3779B97F4A7C15ull ^ b);
}

size_t std::hash<estoria::TypeId>::operator()(const estoria::TypeId& id) const noexcept {
  return std::hash<estoria::Uuid>()(id.uuid()) ^ (std::hash<std::string>()(id.type()) << 1);
}
