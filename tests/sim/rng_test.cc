// RNG streams: reference vectors of the generators, golden first values per (seed, name) so any
// change to seeding or generation is caught, and statistical sanity of our own distributions.
#include "sim/rng.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

namespace ktwin::sim {
namespace {

constexpr int kSamples = 100000;

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double variance_of(const std::vector<double>& v) {
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}

double quantile_of(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

template <typename F>
std::vector<double> draw(uint64_t seed, const char* name, F f) {
  RngStream rng(seed, name);
  std::vector<double> out;
  out.reserve(kSamples);
  for (int i = 0; i < kSamples; ++i) out.push_back(f(rng));
  return out;
}

TEST(RngTest, Fnv1aReferenceVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(RngTest, Splitmix64ReferenceVectors) {
  uint64_t state = 1234567;
  const uint64_t want[] = {6457827717110365317ULL, 3203168211198807973ULL, 9817491932198370423ULL,
                           4593380528125082431ULL, 16408922859458223821ULL};
  for (uint64_t w : want) EXPECT_EQ(splitmix64(state), w);
}

TEST(RngTest, Xoshiro256StarStarReferenceVectors) {
  // From the reference implementation seeded with state {1, 2, 3, 4}.
  RngStream rng = RngStream::from_state({1, 2, 3, 4});
  const uint64_t want[] = {11520ULL,
                           0ULL,
                           1509978240ULL,
                           1215971899390074240ULL,
                           1216172134540287360ULL,
                           607988272756665600ULL,
                           16172922978634559625ULL,
                           8476171486693032832ULL,
                           10595114339597558777ULL,
                           2904607092377533576ULL};
  for (uint64_t w : want) EXPECT_EQ(rng.next_u64(), w);
}

// Golden values: if these change, every saved event log changes. Computed with an independent
// Python implementation of FNV-1a + splitmix64 + xoshiro256**.
TEST(RngTest, StreamFirstValuesAreFixed) {
  EXPECT_EQ(stream_key(42, "cloud/azure"), 0x5993ebe136bbf17cULL);
  RngStream a(42, "cloud/azure");
  EXPECT_EQ(a.next_u64(), 7200164829675573908ULL);
  EXPECT_EQ(a.next_u64(), 2987211748056141716ULL);
  EXPECT_EQ(a.next_u64(), 6710973599143317988ULL);
  EXPECT_EQ(a.next_u64(), 15327478409162723425ULL);

  RngStream b(1, "traffic/workspace-phi-3-mini");
  EXPECT_EQ(b.next_u64(), 7942998698660747591ULL);
  EXPECT_EQ(b.next_u64(), 13440342277133787181ULL);

  RngStream c(42, "cloud/azure");
  EXPECT_DOUBLE_EQ(c.uniform01(), 0.3903217175293989);
  EXPECT_DOUBLE_EQ(c.uniform01(), 0.1619370733458344);
}

TEST(RngTest, SameSeedAndNameGiveSameSequence) {
  RngFactory f1(42), f2(42);
  RngStream a = f1.stream("cloud/azure"), b = f2.stream("cloud/azure");
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.next_u64(), b.next_u64());
  // Distributions too, including the cached normal spare.
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.normal(), b.normal());
}

TEST(RngTest, DifferentNamesOrSeedsDiffer) {
  RngFactory f(42);
  std::set<uint64_t> firsts;
  for (const char* name : {"cloud/azure", "cloud/aws", "traffic/a", "traffic/b", "kubelet", ""}) {
    RngStream s = f.stream(name);
    firsts.insert(s.next_u64());
  }
  EXPECT_EQ(firsts.size(), 6u);
  EXPECT_NE(RngFactory(1).stream("x").next_u64(), RngFactory(2).stream("x").next_u64());
}

TEST(RngTest, Uniform01IsInRangeWithRightMoments) {
  auto v = draw(11, "u01", [](RngStream& r) { return r.uniform01(); });
  for (double x : v) ASSERT_TRUE(x >= 0.0 && x < 1.0);
  EXPECT_NEAR(mean_of(v), 0.5, 0.005);
  EXPECT_NEAR(variance_of(v), 1.0 / 12, 0.002);
}

TEST(RngTest, UniformIntIsUnbiasedAndInclusive) {
  RngStream rng(12, "dice");
  std::map<int64_t, int> counts;
  for (int i = 0; i < 60000; ++i) counts[rng.uniform_int(1, 6)]++;
  ASSERT_EQ(counts.size(), 6u);
  for (auto [face, n] : counts) {
    EXPECT_GE(face, 1);
    EXPECT_LE(face, 6);
    EXPECT_NEAR(n, 10000, 400) << "face " << face;
  }
  EXPECT_EQ(rng.uniform_int(5, 5), 5);
  int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  (void)rng.uniform_int(lo, hi);  // full range must not divide by zero
  for (int i = 0; i < 1000; ++i) {
    int64_t x = rng.uniform_int(-3, 3);
    ASSERT_TRUE(x >= -3 && x <= 3);
  }
}

TEST(RngTest, ExponentialMeanAndMedian) {
  auto v = draw(13, "exp", [](RngStream& r) { return r.exponential(2.0); });
  EXPECT_NEAR(mean_of(v), 0.5, 0.01);
  EXPECT_NEAR(quantile_of(v, 0.5), std::log(2.0) / 2.0, 0.01);
  for (double x : v) ASSERT_GE(x, 0.0);
}

TEST(RngTest, NormalMoments) {
  auto v = draw(14, "normal", [](RngStream& r) { return r.normal(); });
  EXPECT_NEAR(mean_of(v), 0.0, 0.01);
  EXPECT_NEAR(variance_of(v), 1.0, 0.02);
  EXPECT_NEAR(quantile_of(v, 0.9), kNormalQuantile90, 0.03);
  auto w = draw(15, "normal2", [](RngStream& r) { return r.normal(10.0, 3.0); });
  EXPECT_NEAR(mean_of(w), 10.0, 0.05);
  EXPECT_NEAR(std::sqrt(variance_of(w)), 3.0, 0.05);
}

TEST(RngTest, LognormalFromMedianAndP90) {
  auto v = draw(16, "lognormal", [](RngStream& r) { return r.lognormal_median_p90(400, 1200); });
  EXPECT_NEAR(quantile_of(v, 0.5) / 400, 1.0, 0.02);
  EXPECT_NEAR(quantile_of(v, 0.9) / 1200, 1.0, 0.03);
  // From (mu, sigma): mean is exp(mu + sigma^2 / 2).
  auto w = draw(17, "lognormal2", [](RngStream& r) { return r.lognormal(1.0, 0.5); });
  EXPECT_NEAR(mean_of(w) / std::exp(1.0 + 0.125), 1.0, 0.01);
}

TEST(RngTest, GammaMeanAndCv) {
  for (double cv : {0.5, 1.0, 2.0}) {
    SCOPED_TRACE("cv " + std::to_string(cv));
    auto v = draw(18, "gamma", [cv](RngStream& r) { return r.gamma_mean_cv(0.5, cv); });
    double m = mean_of(v);
    EXPECT_NEAR(m / 0.5, 1.0, 0.03);
    EXPECT_NEAR(std::sqrt(variance_of(v)) / m, cv, 0.05 * cv);
    for (double x : v) ASSERT_GE(x, 0.0);
  }
  auto v = draw(19, "gamma-shape", [](RngStream& r) { return r.gamma(4.0, 2.0); });
  EXPECT_NEAR(mean_of(v), 8.0, 0.08);
  EXPECT_NEAR(variance_of(v), 16.0, 0.5);
}

TEST(RngTest, Bernoulli) {
  auto v = draw(20, "coin", [](RngStream& r) { return r.bernoulli(0.3) ? 1.0 : 0.0; });
  EXPECT_NEAR(mean_of(v), 0.3, 0.006);
}

TEST(DurationDistTest, FixedIsExactAndDrawsNothing) {
  RngStream a(1, "d"), b(1, "d");
  DurationDist d = DurationDist::fixed(30 * kSecond + 1);  // not a whole millisecond: kept as is
  EXPECT_EQ(d.sample(a), 30 * kSecond + 1);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_EQ(DurationDist::fixed(90 * kSecond + kMillisecond).to_string(), "fixed 1m30.001s");
}

TEST(DurationDistTest, UniformInRangeAndWholeMilliseconds) {
  DurationDist d = DurationDist::uniform(kMinute, 3 * kMinute);
  auto v = draw(21, "uniform", [&](RngStream& r) {
    Duration x = d.sample(r);
    EXPECT_EQ(x % kMillisecond, 0);
    EXPECT_GE(x, kMinute);
    EXPECT_LE(x, 3 * kMinute);
    return to_seconds(x);
  });
  EXPECT_NEAR(mean_of(v), 120.0, 0.6);
  EXPECT_EQ(d.typical(), 2 * kMinute);
  EXPECT_EQ(d.to_string(), "uniform 1m..3m");
}

TEST(DurationDistTest, LognormalQuantilesAndClamp) {
  DurationDist d = DurationDist::lognormal(5 * kMinute, 9 * kMinute, std::nullopt, 30 * kMinute);
  auto v = draw(22, "vm_create", [&](RngStream& r) {
    Duration x = d.sample(r);
    EXPECT_EQ(x % kMillisecond, 0);
    EXPECT_LE(x, 30 * kMinute);
    return to_seconds(x);
  });
  EXPECT_NEAR(quantile_of(v, 0.5) / 300.0, 1.0, 0.02);
  EXPECT_NEAR(quantile_of(v, 0.9) / 540.0, 1.0, 0.03);
  EXPECT_EQ(d.to_string(), "lognormal median 5m p90 9m max 30m");
  // A tight clamp pins every sample.
  DurationDist pinned = DurationDist::lognormal(5 * kMinute, 9 * kMinute, 6 * kMinute, 6 * kMinute);
  RngStream r(23, "pinned");
  for (int i = 0; i < 100; ++i) ASSERT_EQ(pinned.sample(r), 6 * kMinute);
}

TEST(DurationDistTest, ExponentialMean) {
  DurationDist d = DurationDist::exponential(2 * kMinute);
  auto v = draw(24, "exp", [&](RngStream& r) { return to_seconds(d.sample(r)); });
  EXPECT_NEAR(mean_of(v) / 120.0, 1.0, 0.015);
}

TEST(TokenDistTest, FixedUniformLognormalEmpirical) {
  RngStream rng(25, "tokens");
  EXPECT_EQ(TokenDist::fixed(128).sample(rng), 128);

  TokenDist u = TokenDist::uniform(10, 12);
  std::set<int64_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(u.sample(rng));
  EXPECT_EQ(seen, (std::set<int64_t>{10, 11, 12}));

  TokenDist ln = TokenDist::lognormal(400, 1200, std::nullopt, 4096);
  auto v = draw(26, "prompt", [&](RngStream& r) {
    int64_t x = ln.sample(r);
    EXPECT_GE(x, 1);
    EXPECT_LE(x, 4096);
    return static_cast<double>(x);
  });
  EXPECT_NEAR(quantile_of(v, 0.5) / 400, 1.0, 0.02);
  EXPECT_NEAR(quantile_of(v, 0.9) / 1200, 1.0, 0.03);

  TokenDist e = TokenDist::empirical({5, 50, 500});
  std::map<int64_t, int> counts;
  for (int i = 0; i < 3000; ++i) counts[e.sample(rng)]++;
  ASSERT_EQ(counts.size(), 3u);
  for (auto [value, n] : counts) EXPECT_NEAR(n, 1000, 120) << value;
  EXPECT_DOUBLE_EQ(e.typical(), 185.0);
}

}  // namespace
}  // namespace ktwin::sim
