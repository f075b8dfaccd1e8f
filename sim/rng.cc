// xoshiro256** streams and our own distributions. Only +, *, sqrt (exact in IEEE 754) and the C
// library's log/exp/log1p/pow are used; sampled durations are rounded to milliseconds, which hides
// last-bit differences between libm implementations from the event log.
#include "sim/rng.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>

namespace ktwin::sim {

namespace {
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

Duration round_to_ms(double seconds) {
  if (!(seconds > 0)) return 0;
  double ms = std::round(seconds * 1e3);
  if (ms > 9.2e15) ms = 9.2e15;  // beyond ~290 years: saturate rather than overflow
  return static_cast<Duration>(ms) * kMillisecond;
}

template <typename T>
T clamp_opt(T v, const std::optional<T>& lo, const std::optional<T>& hi) {
  if (lo && v < *lo) v = *lo;
  if (hi && v > *hi) v = *hi;
  return v;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}
}  // namespace

uint64_t fnv1a64(std::string_view data, uint64_t hash) {
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t stream_key(uint64_t seed, std::string_view name) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((seed >> (8 * i)) & 0xff);
  return fnv1a64(name, fnv1a64(std::string_view(bytes, 8)));
}

RngStream::RngStream(uint64_t seed, std::string_view name) : name_(name) {
  uint64_t sm = stream_key(seed, name);
  for (auto& word : s_) word = splitmix64(sm);
  // splitmix64 is a bijection of its counter, so four zero outputs in a row cannot happen; the
  // all-zero state (xoshiro's only fixed point) is therefore unreachable.
}

RngStream RngStream::from_state(const std::array<uint64_t, 4>& state) {
  RngStream r;
  r.s_ = state;
  r.name_ = "raw";
  return r;
}

uint64_t RngStream::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double RngStream::uniform01() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

int64_t RngStream::uniform_int(int64_t lo, int64_t hi) {
  assert(lo <= hi);
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;  // 0: all 2^64 values
  if (range == 0) return static_cast<int64_t>(next_u64());
  // Lemire's multiply-and-reject: unbiased, and rarely divides.
  unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * range;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < range) {
    const uint64_t threshold = (0 - range) % range;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next_u64()) * range;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + static_cast<uint64_t>(m >> 64));
}

double RngStream::exponential(double rate) {
  assert(rate > 0);
  return -std::log1p(-uniform01()) / rate;  // 1 - u is in (0, 1], so the log is finite
}

double RngStream::normal() {
  if (spare_normal_) {
    double v = *spare_normal_;
    spare_normal_.reset();
    return v;
  }
  double u, v, s;
  do {
    u = 2.0 * uniform01() - 1.0;
    v = 2.0 * uniform01() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double factor = std::sqrt(-2.0 * std::log(s) / s);
  spare_normal_ = v * factor;
  return u * factor;
}

double RngStream::lognormal(double mu, double sigma) { return std::exp(mu + sigma * normal()); }

double RngStream::lognormal_median_p90(double median, double p90) {
  assert(median > 0 && p90 >= median);
  const double sigma = std::log(p90 / median) / kNormalQuantile90;
  return lognormal(std::log(median), sigma);
}

double RngStream::gamma(double shape, double scale) {
  assert(shape > 0 && scale > 0);
  if (shape < 1.0) {
    // Boost: X ~ Gamma(k + 1), U^(1/k) X ~ Gamma(k). 1 - u keeps the base in (0, 1].
    const double u = 1.0 - uniform01();
    return gamma(shape + 1.0, scale) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform01();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v * scale;
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v * scale;
  }
}

double RngStream::gamma_mean_cv(double mean, double cv) {
  assert(mean > 0 && cv > 0);
  const double shape = 1.0 / (cv * cv);
  return gamma(shape, mean / shape);
}

// --- DurationDist ---------------------------------------------------------------------------

DurationDist DurationDist::fixed(Duration value) {
  DurationDist d;
  d.kind = Kind::kFixed;
  d.value = value;
  return d;
}

DurationDist DurationDist::uniform(Duration min, Duration max) {
  DurationDist d;
  d.kind = Kind::kUniform;
  d.min = min;
  d.max = max;
  return d;
}

DurationDist DurationDist::lognormal(Duration median, Duration p90, std::optional<Duration> min,
                                     std::optional<Duration> max) {
  DurationDist d;
  d.kind = Kind::kLognormal;
  d.median = median;
  d.p90 = p90;
  d.min = min;
  d.max = max;
  return d;
}

DurationDist DurationDist::exponential(Duration mean) {
  DurationDist d;
  d.kind = Kind::kExponential;
  d.mean = mean;
  return d;
}

Duration DurationDist::sample(RngStream& rng) const {
  switch (kind) {
    case Kind::kFixed:
      return value;
    case Kind::kUniform:
      return round_to_ms(rng.uniform(to_seconds(*min), to_seconds(*max)));
    case Kind::kLognormal:
      if (median <= 0) return clamp_opt<Duration>(0, min, max);
      return clamp_opt(round_to_ms(rng.lognormal_median_p90(to_seconds(median), to_seconds(p90))), min, max);
    case Kind::kExponential:
      if (mean <= 0) return clamp_opt<Duration>(0, min, max);
      return clamp_opt(round_to_ms(rng.exponential(1.0 / to_seconds(mean))), min, max);
  }
  return value;
}

Duration DurationDist::typical() const {
  switch (kind) {
    case Kind::kFixed:
      return value;
    case Kind::kUniform:
      return *min + (*max - *min) / 2;
    case Kind::kLognormal:
      return clamp_opt(median, min, max);
    case Kind::kExponential:
      return clamp_opt(mean, min, max);
  }
  return value;
}

std::string DurationDist::to_string() const {
  std::string out;
  switch (kind) {
    case Kind::kFixed:
      return "fixed " + format_duration(value);
    case Kind::kUniform:
      return "uniform " + format_duration(*min) + ".." + format_duration(*max);
    case Kind::kLognormal:
      out = "lognormal median " + format_duration(median) + " p90 " + format_duration(p90);
      break;
    case Kind::kExponential:
      out = "exponential mean " + format_duration(mean);
      break;
  }
  if (min) out += " min " + format_duration(*min);
  if (max) out += " max " + format_duration(*max);
  return out;
}

// --- TokenDist ------------------------------------------------------------------------------

TokenDist TokenDist::fixed(int64_t value) {
  TokenDist d;
  d.kind = Kind::kFixed;
  d.value = value;
  return d;
}

TokenDist TokenDist::uniform(int64_t min, int64_t max) {
  TokenDist d;
  d.kind = Kind::kUniform;
  d.min = min;
  d.max = max;
  return d;
}

TokenDist TokenDist::lognormal(double median, double p90, std::optional<int64_t> min, std::optional<int64_t> max) {
  TokenDist d;
  d.kind = Kind::kLognormal;
  d.median = median;
  d.p90 = p90;
  d.min = min;
  d.max = max;
  return d;
}

TokenDist TokenDist::empirical(std::vector<int64_t> values) {
  TokenDist d;
  d.kind = Kind::kEmpirical;
  d.samples = std::make_shared<const std::vector<int64_t>>(std::move(values));
  return d;
}

int64_t TokenDist::sample(RngStream& rng) const {
  int64_t v = value;
  switch (kind) {
    case Kind::kFixed:
      return std::max<int64_t>(1, value);
    case Kind::kUniform:
      v = rng.uniform_int(*min, *max);
      break;
    case Kind::kLognormal: {
      double x = std::round(rng.lognormal_median_p90(median, p90));
      v = x >= 9.0e18 ? static_cast<int64_t>(9.0e18) : static_cast<int64_t>(x);
      v = clamp_opt(v, min, max);
      break;
    }
    case Kind::kEmpirical:
      assert(samples && !samples->empty());
      v = clamp_opt((*samples)[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(samples->size()) - 1))], min,
                    max);
      break;
  }
  return std::max<int64_t>(1, v);
}

double TokenDist::typical() const {
  switch (kind) {
    case Kind::kFixed:
      return static_cast<double>(value);
    case Kind::kUniform:
      return (static_cast<double>(*min) + static_cast<double>(*max)) / 2.0;
    case Kind::kLognormal:
      return median;
    case Kind::kEmpirical: {
      if (!samples || samples->empty()) return 0;
      double sum = 0;
      for (int64_t s : *samples) sum += static_cast<double>(s);
      return sum / static_cast<double>(samples->size());
    }
  }
  return 0;
}

std::string TokenDist::to_string() const {
  std::string out;
  switch (kind) {
    case Kind::kFixed:
      return "fixed " + std::to_string(value);
    case Kind::kUniform:
      return "uniform " + std::to_string(*min) + ".." + std::to_string(*max);
    case Kind::kLognormal:
      out = "lognormal median " + format_number(median) + " p90 " + format_number(p90);
      break;
    case Kind::kEmpirical:
      out = "empirical " + (file.empty() ? std::string("(inline)") : file);
      break;
  }
  if (min) out += " min " + std::to_string(*min);
  if (max) out += " max " + std::to_string(*max);
  return out;
}

}  // namespace ktwin::sim
