// Model presets: the values KAITO derives from a preset (KV bytes per token, readiness timeout) and the
// registry that resolves legacy names, Hugging Face ids and aliases.
#include "core/presets/model_preset.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace ktwin {

namespace {

// KAITO lower-cases the requested name before looking it up (GetModelByName), so keys are folded here too.
std::string fold(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

const char* attention_kind_name(AttentionKind a) {
  switch (a) {
    case AttentionKind::kMHA:
      return "MHA";
    case AttentionKind::kGQA:
      return "GQA";
    case AttentionKind::kMQA:
      return "MQA";
    case AttentionKind::kMLA:
      return "MLA";
  }
  return "?";
}

int64_t ModelPreset::readiness_timeout_seconds() const {
  constexpr double kBaseSeconds = 15 * 60;
  constexpr double kPerGiBSeconds = 18;
  constexpr int64_t kMinSeconds = 30 * 60;
  constexpr int64_t kMaxSeconds = 180 * 60;
  const auto raw = static_cast<int64_t>(std::floor(kBaseSeconds + kPerGiBSeconds * weights_gib));
  return std::clamp(raw, kMinSeconds, kMaxSeconds);
}

int64_t ModelPreset::derived_bytes_per_token() const {
  const ModelArchitecture& a = arch;
  constexpr int64_t kFp16Bytes = 2;
  if (a.attention == AttentionKind::kMLA || a.kv_lora_rank > 0) {
    // MLA caches one compressed latent plus the decoupled RoPE key per layer.
    return static_cast<int64_t>(a.kv_lora_rank + a.qk_rope_head_dim) * a.num_layers * kFp16Bytes;
  }
  int64_t head_dim = a.head_dim;
  if (head_dim <= 0 && a.num_attention_heads > 0) head_dim = a.hidden_size / a.num_attention_heads;
  int64_t kv_heads = a.num_kv_heads;
  if (kv_heads <= 0) kv_heads = a.attention == AttentionKind::kMQA ? 1 : a.num_attention_heads;
  return 2 /* K and V */ * static_cast<int64_t>(a.num_layers) * kv_heads * head_dim * kFp16Bytes;
}

Status PresetRegistry::add(ModelPreset preset) {
  if (preset.name.empty()) return make_error(ErrorCode::kInvalid, "preset has no name");
  std::vector<std::string> keys{preset.name};
  if (!preset.hf_id.empty()) keys.push_back(preset.hf_id);
  keys.insert(keys.end(), preset.aliases.begin(), preset.aliases.end());
  // Reject before inserting anything so a failed add leaves the registry unchanged.
  std::vector<std::string> folded;
  for (const auto& k : keys) {
    std::string f = fold(k);
    if (std::find(folded.begin(), folded.end(), f) != folded.end()) continue;  // e.g. name == hf_id
    auto it = index_.find(f);
    if (it != index_.end()) {
      return make_error(ErrorCode::kInvalid, "preset \"" + preset.name + "\": name \"" + k +
                                                 "\" is already used by preset \"" + presets_[it->second].name + "\"");
    }
    folded.push_back(std::move(f));
  }
  const size_t pos = presets_.size();
  presets_.push_back(std::move(preset));
  for (auto& f : folded) index_.emplace(std::move(f), pos);
  return {};
}

const ModelPreset* PresetRegistry::find(std::string_view name) const {
  auto it = index_.find(fold(name));
  return it == index_.end() ? nullptr : &presets_[it->second];
}

std::vector<std::string> PresetRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(presets_.size());
  for (const auto& p : presets_) out.push_back(p.name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ktwin
