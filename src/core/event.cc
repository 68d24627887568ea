#include "estoria/event.h"

#include <cstdio>
#include <ctime>

namespace estoria {

Timestamp Now() { return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()); }

std::string FormatTimestamp(Timestamp t) {
  // The civil date computed on int64 days (H. Hinnant's civil_from_days), not
  // with std::chrono::year_month_day, whose year wraps outside -32767..32767:
  // an instant decoded from a damaged row must not print as another date.
  constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000 * 1000;
  int64_t micros = t.time_since_epoch().count();
  int64_t days = micros / kMicrosPerDay;
  int64_t in_day = micros % kMicrosPerDay;
  if (in_day < 0) {
    in_day += kMicrosPerDay;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const int64_t seconds = in_day / 1000000;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%06lldZ", static_cast<long long>(year),
                static_cast<long long>(month), static_cast<long long>(day), static_cast<long long>(seconds / 3600),
                static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60),
                static_cast<long long>(in_day % 1000000));
  return buf;
}

namespace {
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}
}  // namespace

Result<Timestamp> ParseTimestamp(std::string_view s) {
  using namespace std::chrono;
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("invalid RFC 3339 timestamp \"" + std::string(s) + "\": " + why);
  };
  int y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &se)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return bad("date or time out of range");
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) micros += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return bad("fraction must have 1 to 9 digits");
  }
  int64_t offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !Digits(s, pos + 4, 2, &om) ||
        oh > 23 || om > 59) {
      return bad("bad UTC offset");
    }
    offset_minutes = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad("missing time zone (Z or +hh:mm)");
  }
  if (pos != s.size()) return bad("trailing characters");
  Timestamp t = time_point_cast<microseconds>(sys_days(ymd)) + hours(h) + minutes(mi) + seconds(se) +
                microseconds(micros) - minutes(offset_minutes);
  // An offset can move the instant out of years 0000..9999, which
  // FormatTimestamp could not write back as RFC 3339.
  if (t < sys_days(year{0} / 1 / 1) || t >= sys_days(year{10000} / 1 / 1)) {
    return bad("outside years 0000..9999 in UTC");
  }
  return t;
}

std::ostream& operator<<(std::ostream& os, const Event& e) {
  os << "Event{id=" << e.id << " stream=" << e.stream_id << " v" << e.stream_version << " @" << e.global_position << " "
     << FormatTimestamp(e.timestamp) << " " << e.content_type << " " << e.data.size() << " bytes";
  if (!e.metadata.empty()) {
    os << " metadata={";
    for (const auto& [k, v] : e.metadata) os << k << "=" << v << ";";
    os << "}";
  }
  return os << "}";
}

}  // namespace estoria
