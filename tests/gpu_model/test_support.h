// Shared by the gpu_model tests: a deployment of a known model on a known GPU.
#pragma once
#include <string>

#include "gpu_model/predictor.h"

namespace ktwin::gpu::testing {

inline Deployment deploy(const std::string& model, const std::string& gpu, DType w, int tp = 1) {
  Deployment d;
  d.model = default_hardware().model(model);
  d.gpu = default_hardware().gpu(gpu);
  d.weight_dtype = w;
  d.kv_dtype = w == DType::kFP8 ? DType::kFP8 : DType::kFP16;
  d.tp = tp;
  return d;
}

}  // namespace ktwin::gpu::testing
