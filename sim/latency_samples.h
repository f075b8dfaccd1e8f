// Latency samples of one metric (TTFT, TPOT or E2EL of a workspace) and their summary. Exact while
// small; past a fixed count they fold into a log-bucketed histogram, so a simulated day of traffic
// (86 M requests) stays in bounded memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace ktwin::sim {

//! mean and percentiles of one latency metric, in milliseconds.
struct LatencySummary {
  double mean = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, p999 = 0, min = 0, max = 0;
};

//! Percentiles by linear interpolation between closest ranks (numpy's default); input need not be sorted.
LatencySummary summarize_latencies(std::vector<double> values_ms);

class LatencySamples {
 public:
  //! Values kept exactly; beyond this many, percentiles come from buckets 1/kSubBuckets wide (relative),
  //! i.e. within 0.1% of the exact value. Mean, min and max stay exact.
  static constexpr size_t kExactLimit = size_t{1} << 16;
  static constexpr int kSubBuckets = 512;

  void add(double ms);
  int64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  bool exact() const { return buckets_.empty(); }
  LatencySummary summary() const;

 private:
  void fold();
  static int32_t bucket_of(double ms);
  static double bucket_value(int32_t bucket);
  double value_at_rank(int64_t rank) const;  // histogram mode

  std::vector<double> exact_;
  std::map<int32_t, int64_t> buckets_;
  int64_t count_ = 0;
  double sum_ = 0, min_ = 0, max_ = 0;  // histogram mode
};

}  // namespace ktwin::sim
