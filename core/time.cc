#include "core/time.h"

#include <cmath>
#include <cstdio>

namespace ktwin {

namespace {
// Howard Hinnant's civil-date algorithms: exact, branch-light, no dependency on the C library's TZ.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool read_int(std::string_view s, size_t& pos, size_t digits, int64_t& out) {
  if (pos + digits > s.size()) return false;
  out = 0;
  for (size_t i = 0; i < digits; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += digits;
  return true;
}
}  // namespace

std::string format_rfc3339(Time t) {
  int64_t secs = t >= 0 ? t / kSecond : -((-t + kSecond - 1) / kSecond);
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600), static_cast<long long>((rem / 60) % 60),
                static_cast<long long>(rem % 60));
  return buf;
}

std::optional<Time> parse_rfc3339(std::string_view s) {
  size_t pos = 0;
  int64_t y, mo, d, h, mi, se;
  if (!read_int(s, pos, 4, y) || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!read_int(s, pos, 2, mo) || pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!read_int(s, pos, 2, d) || pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' '))
    return std::nullopt;
  ++pos;
  if (!read_int(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':') return std::nullopt;
  if (!read_int(s, pos, 2, mi) || pos >= s.size() || s[pos++] != ':') return std::nullopt;
  if (!read_int(s, pos, 2, se)) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100000000;
    bool any = false;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      any = true;
    }
    if (!any) return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int64_t oh, om;
    if (!read_int(s, pos, 2, oh) || pos >= s.size() || s[pos++] != ':' || !read_int(s, pos, 2, om)) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset;
  return secs * kSecond + frac_ns;
}

std::optional<Duration> parse_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t pos = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    pos = 1;
  }
  if (pos == s.size()) return std::nullopt;
  if (s.substr(pos) == "0") return 0;
  long double total = 0;
  while (pos < s.size()) {
    size_t start = pos;
    bool seen_dot = false;
    while (pos < s.size() && ((s[pos] >= '0' && s[pos] <= '9') || (s[pos] == '.' && !seen_dot))) {
      if (s[pos] == '.') seen_dot = true;
      ++pos;
    }
    if (pos == start || (pos == start + 1 && s[start] == '.')) return std::nullopt;
    long double value = std::stold(std::string(s.substr(start, pos - start)));
    size_t ustart = pos;
    while (pos < s.size() && ((s[pos] >= 'a' && s[pos] <= 'z'))) ++pos;
    std::string_view unit = s.substr(ustart, pos - ustart);
    long double scale;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else if (unit == "d")
      scale = 86400e9;
    else
      return std::nullopt;  // missing or unknown unit
    total += value * scale;
  }
  if (total > 9.2e18L) return std::nullopt;
  Duration d = static_cast<Duration>(std::llround(static_cast<double>(total)));
  return negative ? -d : d;
}

std::string format_duration(Duration d) {
  if (d == 0) return "0s";
  std::string out;
  if (d < 0) {
    out = "-";
    d = -d;
  }
  if (d < kSecond) {
    if (d % kMillisecond == 0) return out + std::to_string(d / kMillisecond) + "ms";
    if (d % kMicrosecond == 0) return out + std::to_string(d / kMicrosecond) + "us";
    return out + std::to_string(d) + "ns";
  }
  int64_t h = d / kHour;
  int64_t m = (d % kHour) / kMinute;
  Duration rest = d % kMinute;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (rest) {
    if (rest % kSecond == 0) {
      out += std::to_string(rest / kSecond) + "s";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", to_seconds(rest));
      std::string s = buf;
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
      out += s + "s";
    }
  }
  return out;
}

}  // namespace ktwin
