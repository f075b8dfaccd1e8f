#include "sim/latency_samples.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace ktwin::sim {

LatencySummary summarize_latencies(std::vector<double> v) {
  LatencySummary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  auto q = [&](double p) {
    const double pos = p * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
  };
  s.p50 = q(0.50);
  s.p90 = q(0.90);
  s.p95 = q(0.95);
  s.p99 = q(0.99);
  s.p999 = q(0.999);
  s.min = v.front();
  s.max = v.back();
  return s;
}

// Buckets from the binary exponent and the top mantissa bits (frexp and ldexp are exact), so the
// histogram is the same on every compiler and libm.
int32_t LatencySamples::bucket_of(double ms) {
  if (!(ms > 0)) return INT32_MIN;
  int e = 0;
  const double m = std::frexp(ms, &e);  // ms = m * 2^e, m in [0.5, 1)
  const int sub = std::min(kSubBuckets - 1, static_cast<int>((m - 0.5) * 2 * kSubBuckets));
  return e * kSubBuckets + sub;
}

double LatencySamples::bucket_value(int32_t bucket) {
  if (bucket == INT32_MIN) return 0;
  const int e = static_cast<int>(std::floor(static_cast<double>(bucket) / kSubBuckets));
  const int sub = bucket - e * kSubBuckets;
  return std::ldexp(0.5 + (sub + 0.5) / (2.0 * kSubBuckets), e);
}

void LatencySamples::add(double ms) {
  ++count_;
  if (buckets_.empty()) {
    exact_.push_back(ms);
    if (exact_.size() > kExactLimit) fold();
    return;
  }
  sum_ += ms;
  min_ = std::min(min_, ms);
  max_ = std::max(max_, ms);
  ++buckets_[bucket_of(ms)];
}

void LatencySamples::fold() {
  std::sort(exact_.begin(), exact_.end());
  sum_ = 0;
  for (double x : exact_) {
    sum_ += x;
    ++buckets_[bucket_of(x)];
  }
  min_ = exact_.front();
  max_ = exact_.back();
  std::vector<double>().swap(exact_);
}

double LatencySamples::value_at_rank(int64_t rank) const {
  if (rank <= 0) return min_;
  if (rank >= count_ - 1) return max_;
  int64_t seen = 0;
  for (const auto& [bucket, n] : buckets_) {
    seen += n;
    if (rank < seen) return std::clamp(bucket_value(bucket), min_, max_);
  }
  return max_;
}

LatencySummary LatencySamples::summary() const {
  if (exact()) return summarize_latencies(exact_);
  LatencySummary s;
  s.mean = sum_ / static_cast<double>(count_);
  auto q = [&](double p) {
    const double pos = p * static_cast<double>(count_ - 1);
    const auto lo = static_cast<int64_t>(std::floor(pos));
    const double a = value_at_rank(lo), b = value_at_rank(std::min(lo + 1, count_ - 1));
    return a + (b - a) * (pos - static_cast<double>(lo));
  };
  s.p50 = q(0.50);
  s.p90 = q(0.90);
  s.p95 = q(0.95);
  s.p99 = q(0.99);
  s.p999 = q(0.999);
  s.min = min_;
  s.max = max_;
  return s;
}

}  // namespace ktwin::sim
