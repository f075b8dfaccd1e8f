// Time and durations for the operator core: int64 nanoseconds since the Unix epoch, in both worlds.
// The simulator starts its clock at kSimEpoch so timestamps in objects look like real ones.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ktwin {

using Time = int64_t;      //!< nanoseconds since 1970-01-01T00:00:00Z
using Duration = int64_t;  //!< nanoseconds

inline constexpr Duration kNanosecond = 1;
inline constexpr Duration kMicrosecond = 1000;
inline constexpr Duration kMillisecond = 1000 * kMicrosecond;
inline constexpr Duration kSecond = 1000 * kMillisecond;
inline constexpr Duration kMinute = 60 * kSecond;
inline constexpr Duration kHour = 60 * kMinute;

//! 2025-01-01T00:00:00Z: simulated runs start here.
inline constexpr Time kSimEpoch = 1735689600LL * kSecond;

constexpr double to_seconds(Duration d) { return static_cast<double>(d) / 1e9; }
constexpr Duration from_seconds(double s) { return static_cast<Duration>(s * 1e9 + (s >= 0 ? 0.5 : -0.5)); }

//! RFC 3339 in UTC with second precision, as Kubernetes writes metav1.Time ("2025-01-01T00:10:00Z").
std::string format_rfc3339(Time t);
//! Parses RFC 3339 ("2025-01-01T00:10:00Z", optional fraction and offset); nullopt when malformed.
std::optional<Time> parse_rfc3339(std::string_view s);

//! Parses "90s", "15m", "2h", "1h30m", "800ms", "1.5s", "250us", "10ns" (Go time.ParseDuration syntax).
//! A bare number is rejected so that units are never guessed. Returns nullopt when malformed.
std::optional<Duration> parse_duration(std::string_view s);
//! Shortest readable form: "2h", "15m", "1m30s", "800ms", "0s".
std::string format_duration(Duration d);

}  // namespace ktwin
