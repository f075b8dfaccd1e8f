// Deterministic randomness for simulated runs: one xoshiro256** stream per component, derived from
// (scenario seed, stream name), and distributions implemented here because std:: distributions give
// different numbers on different standard libraries. Same seed and name = same numbers, anywhere.
// Depends only on std and core/time.h (YAML parsing of the distribution types is in sim/scenario.h).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace ktwin::sim {

//! 64-bit FNV-1a of `data`, continuing from `hash` (the FNV offset basis by default).
uint64_t fnv1a64(std::string_view data, uint64_t hash = 0xcbf29ce484222325ULL);
//! One step of splitmix64: advances `state` and returns the next output.
uint64_t splitmix64(uint64_t& state);
//! Seed material of a stream: FNV-1a over the seed's 8 little-endian bytes followed by the name.
uint64_t stream_key(uint64_t seed, std::string_view name);

//! Standard normal quantile at 0.9, used to turn a (median, p90) pair into a lognormal sigma.
inline constexpr double kNormalQuantile90 = 1.2815515655446004;

//! xoshiro256** with our own distributions. Not thread-safe; one stream per component.
class RngStream {
 public:
  //! The stream for (seed, name): xoshiro state filled by splitmix64 from stream_key(seed, name).
  RngStream(uint64_t seed, std::string_view name);
  //! A stream with a raw xoshiro256** state (for tests against the reference generator).
  static RngStream from_state(const std::array<uint64_t, 4>& state);

  const std::string& name() const { return name_; }

  uint64_t next_u64();
  //! Uniform in [0, 1) with 53 random bits.
  double uniform01();
  //! Uniform in [a, b).
  double uniform(double a, double b) { return a + (b - a) * uniform01(); }
  //! Uniform integer in [lo, hi], inclusive, without modulo bias.
  int64_t uniform_int(int64_t lo, int64_t hi);
  //! Exponential with the given rate (> 0); mean 1 / rate.
  double exponential(double rate);
  //! Standard normal (Marsaglia polar method; the second value of each pair is cached).
  double normal();
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  //! exp(N(mu, sigma)).
  double lognormal(double mu, double sigma);
  //! Lognormal with the given median and 90th percentile (p90 >= median > 0).
  double lognormal_median_p90(double median, double p90);
  //! Gamma with shape k > 0 and scale theta > 0 (Marsaglia-Tsang; boosted for k < 1).
  double gamma(double shape, double scale);
  //! Gamma with the given mean and coefficient of variation (shape 1/cv^2).
  double gamma_mean_cv(double mean, double cv);
  //! True with probability p.
  bool bernoulli(double p) { return uniform01() < p; }

 private:
  RngStream() = default;
  std::array<uint64_t, 4> s_{};
  std::optional<double> spare_normal_;
  std::string name_;
};

//! Hands out the streams of one run. Give each component its own name ("cloud/azure",
//! "traffic/workspace-phi-3-mini"): two components sharing a name would draw identical numbers.
class RngFactory {
 public:
  explicit RngFactory(uint64_t seed) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  RngStream stream(std::string_view name) const { return RngStream(seed_, name); }

 private:
  uint64_t seed_;
};

//! A distribution of durations, as written in scenario files. Samples are rounded to whole
//! milliseconds so event logs print stable values; fixed values are returned exactly.
struct DurationDist {
  enum class Kind { kFixed, kUniform, kLognormal, kExponential };
  Kind kind = Kind::kFixed;
  Duration value = 0;           //!< kFixed
  Duration median = 0;          //!< kLognormal
  Duration p90 = 0;             //!< kLognormal
  Duration mean = 0;            //!< kExponential
  std::optional<Duration> min;  //!< kUniform: lower bound; others: optional clamp
  std::optional<Duration> max;  //!< kUniform: upper bound; others: optional clamp

  static DurationDist fixed(Duration value);
  static DurationDist uniform(Duration min, Duration max);
  static DurationDist lognormal(Duration median, Duration p90, std::optional<Duration> min = std::nullopt,
                                std::optional<Duration> max = std::nullopt);
  static DurationDist exponential(Duration mean);

  Duration sample(RngStream& rng) const;
  //! A representative value for estimates: the fixed value, midpoint, median or mean.
  Duration typical() const;
  //! "fixed 30s", "uniform 1m..3m", "lognormal median 5m p90 9m max 30m", "exponential mean 2m".
  std::string to_string() const;
  bool operator==(const DurationDist&) const = default;
};

//! A distribution of token counts (prompt or output lengths). Samples are at least 1.
struct TokenDist {
  enum class Kind { kFixed, kUniform, kLognormal, kEmpirical };
  Kind kind = Kind::kFixed;
  int64_t value = 0;                                    //!< kFixed
  double median = 0;                                    //!< kLognormal
  double p90 = 0;                                       //!< kLognormal
  std::optional<int64_t> min;                           //!< kUniform: lower bound (inclusive); others: optional clamp
  std::optional<int64_t> max;                           //!< kUniform: upper bound (inclusive); others: optional clamp
  std::string file;                                     //!< kEmpirical: path as written in the scenario
  std::string resolved_file;                            //!< kEmpirical: path relative to the working directory
  std::shared_ptr<const std::vector<int64_t>> samples;  //!< kEmpirical: loaded values (may be null)

  static TokenDist fixed(int64_t value);
  static TokenDist uniform(int64_t min, int64_t max);
  static TokenDist lognormal(double median, double p90, std::optional<int64_t> min = std::nullopt,
                             std::optional<int64_t> max = std::nullopt);
  static TokenDist empirical(std::vector<int64_t> values);

  //! Kind kEmpirical needs `samples` loaded; sampling without them is a programming error.
  int64_t sample(RngStream& rng) const;
  double typical() const;
  std::string to_string() const;
};

}  // namespace ktwin::sim
