// fuzz_util.h: helpers shared by the fuzz targets of tests/fuzz.
//   FUZZ_CHECK(cond)  an invariant of the code under test: prints and aborts
//                     (a crash for libFuzzer, a failed test for the replay)
//   FuzzInput         splits the input into fields for targets of many arguments
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// FUZZ_CHECK with the offending text (e.g. a status message) printed too.
#define FUZZ_CHECK_MSG(cond, msg)                                                                                      \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s: %s\n", __FILE__, __LINE__, #cond, std::string(msg).c_str()); \
      std::abort();                                                                                                    \
    }                                                                                                                  \
  } while (0)

namespace estoria::fuzz {

// The input as a sequence of fields: Next() returns the text up to the next
// separator byte (default '\x1f', unit separator; seeds are written with it)
// or the rest; Byte() and Int() take small numbers from the front.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }
  std::string_view rest() const { return rest_; }

  std::string_view Next(char separator = '\x1f') {
    size_t p = rest_.find(separator);
    std::string_view field = rest_.substr(0, p);
    rest_ = p == std::string_view::npos ? std::string_view() : rest_.substr(p + 1);
    return field;
  }
  uint8_t Byte() {
    if (rest_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return b;
  }
  int64_t Int64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return static_cast<int64_t>(v);
  }

 private:
  std::string_view rest_;
};

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace estoria::fuzz
