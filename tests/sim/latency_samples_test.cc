// Latency samples: exact summaries while small, within 0.1% once folded into buckets, mean/min/max exact.
#include "sim/latency_samples.h"

#include <gtest/gtest.h>

#include <random>

namespace ktwin::sim {
namespace {

TEST(LatencySamples, ExactBelowTheLimit) {
  LatencySamples s;
  std::vector<double> v;
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> d(5, 1);
  for (int i = 0; i < 10'000; ++i) {
    v.push_back(d(rng));
    s.add(v.back());
  }
  ASSERT_TRUE(s.exact());
  const LatencySummary a = s.summary(), b = summarize_latencies(v);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.p50, b.p50);
  EXPECT_EQ(a.p99, b.p99);
  EXPECT_EQ(a.max, b.max);
}

TEST(LatencySamples, FoldedPercentilesWithinATenthOfAPercent) {
  LatencySamples s;
  std::vector<double> v;
  std::mt19937_64 rng(4);
  std::lognormal_distribution<double> d(4, 1.5);  // ms, spanning many binary orders of magnitude
  const size_t n = LatencySamples::kExactLimit * 3;
  for (size_t i = 0; i < n; ++i) {
    v.push_back(d(rng));
    s.add(v.back());
  }
  v.push_back(0);  // an instant first token still counts
  s.add(0);
  ASSERT_FALSE(s.exact());
  EXPECT_EQ(s.count(), static_cast<int64_t>(n + 1));
  const LatencySummary a = s.summary(), b = summarize_latencies(v);
  EXPECT_NEAR(a.mean, b.mean, b.mean * 1e-9);
  EXPECT_EQ(a.min, 0);
  EXPECT_EQ(a.max, b.max);
  for (auto [got, want] : {std::pair{a.p50, b.p50}, {a.p90, b.p90}, {a.p95, b.p95}, {a.p99, b.p99}, {a.p999, b.p999}})
    EXPECT_NEAR(got, want, want * 1e-3);
}

TEST(LatencySamples, EmptyIsZero) {
  LatencySamples s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.summary().p95, 0);
}

}  // namespace
}  // namespace ktwin::sim
