#include "sim/run_data.h"

namespace ktwin::sim {

void RequestSampler::offer(RequestSample sample) {
  if (seen_++ % stride_ != 0) return;
  kept_.push_back(std::move(sample));
  if (kept_.size() <= capacity_) return;
  size_t out = 0;
  for (size_t i = 0; i < kept_.size(); i += 2, ++out)
    if (out != i) kept_[out] = std::move(kept_[i]);  // a self-move would empty the strings
  kept_.resize(out);
  stride_ *= 2;
}

}  // namespace ktwin::sim
