// SKU catalogs per cloud and the GPU configuration of BYO nodes read from NVIDIA GPU feature discovery labels.
#include "core/presets/sku.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ktwin {

void SkuCatalog::add(Sku sku) { skus_.push_back(std::move(sku)); }

const Sku* SkuCatalog::find(std::string_view cloud, std::string_view name) const {
  for (const auto& s : skus_) {
    if (s.cloud == cloud && s.name() == name) return &s;
  }
  return nullptr;
}

std::vector<const Sku*> SkuCatalog::list(std::string_view cloud, bool include_removed) const {
  std::vector<const Sku*> out;
  for (const auto& s : skus_) {
    if (s.cloud != cloud) continue;
    if (s.removed && !include_removed) continue;
    out.push_back(&s);
  }
  return out;
}

std::vector<std::string> SkuCatalog::clouds() const {
  std::vector<std::string> out;
  for (const auto& s : skus_) {
    if (std::find(out.begin(), out.end(), s.cloud) == out.end()) out.push_back(s.cloud);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::optional<int64_t> parse_int(const std::string* s) {
  if (s == nullptr || s->empty()) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || ptr != s->data() + s->size()) return std::nullopt;
  return v;
}

const std::string* label(const Labels& labels, const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? nullptr : &it->second;
}

}  // namespace

std::optional<GpuConfig> gpu_config_from_node_labels(const Labels& labels) {
  const std::string* product = label(labels, "nvidia.com/gpu.product");
  auto count = parse_int(label(labels, "nvidia.com/gpu.count"));
  auto memory_mib = parse_int(label(labels, "nvidia.com/gpu.memory"));
  if (product == nullptr || product->empty() || !count || !memory_mib || *count <= 0 || *memory_mib <= 0) {
    return std::nullopt;
  }
  GpuConfig gpu;
  gpu.gpu_model = *product;
  gpu.gpu_count = static_cast<int>(*count);
  // KAITO rounds the per-GPU MiB to whole GiB before multiplying by the count.
  gpu.total_gpu_memory_gib = std::round(static_cast<double>(*memory_mib) / 1024.0) * static_cast<double>(*count);
  if (auto major = parse_int(label(labels, "nvidia.com/cuda.compute.major")))
    gpu.compute_major = static_cast<int>(*major);
  if (auto minor = parse_int(label(labels, "nvidia.com/cuda.compute.minor")))
    gpu.compute_minor = static_cast<int>(*minor);
  // With MIG applied, GPU feature discovery reports the slices in gpu.count/gpu.memory already.
  const std::string* mig_config = label(labels, "nvidia.com/mig.config");
  const std::string* mig_state = label(labels, "nvidia.com/mig.config.state");
  gpu.mig = mig_config != nullptr && !mig_config->empty() && *mig_config != "all-disabled" && mig_state != nullptr &&
            *mig_state == "success";
  return gpu;
}

}  // namespace ktwin
