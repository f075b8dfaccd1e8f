// Per-run data beyond the summary, kept for the results database: an evenly thinned sample of
// per-request timings and per-window time series.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ktwin::sim {

struct RequestSample {
  std::string workspace;  //!< "namespace/name"
  double arrival_s = 0;   //!< simulated time the client sent it
  double ttft_ms = 0;
  double tpot_ms = -1;  //!< -1 when the request produced a single token
  double e2el_ms = 0;
  int64_t prompt_tokens = 0, output_tokens = 0;
};

struct SeriesPoint {
  double t_s = 0;  //!< start of the window
  std::string name;
  std::string workspace;  //!< "" for cluster-wide series
  double value = 0;
};

//! Keeps every stride-th offered sample and doubles the stride when full, so the kept samples stay
//! evenly spread over a run of any length without knowing it in advance.
class RequestSampler {
 public:
  explicit RequestSampler(size_t capacity = 4096) : capacity_(capacity) {}
  void offer(RequestSample sample);
  const std::vector<RequestSample>& samples() const { return kept_; }

 private:
  size_t capacity_;
  uint64_t stride_ = 1, seen_ = 0;
  std::vector<RequestSample> kept_;
};

}  // namespace ktwin::sim
