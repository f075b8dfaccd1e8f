// Model presets (KAITO's model catalog): architecture numbers and the values KAITO derives from them
// (bytes per KV token, disk, readiness timeout). Loaded from presets/models/*.yaml by catalog/.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ktwin {

enum class AttentionKind { kMHA, kGQA, kMQA, kMLA };
const char* attention_kind_name(AttentionKind a);

struct ModelArchitecture {
  int num_layers = 0;
  int hidden_size = 0;
  int num_attention_heads = 0;
  int num_kv_heads = 0;       //!< = heads for MHA, 1 for MQA
  int head_dim = 0;           //!< hidden/heads unless the config says otherwise
  int intermediate_size = 0;  //!< FFN size (per expert for MoE)
  int vocab_size = 0;
  int num_experts = 0;  //!< 0 or 1: dense
  int experts_per_token = 0;
  int kv_lora_rank = 0;              //!< MLA only
  int qk_rope_head_dim = 0;          //!< MLA only
  double params_billion = 0;         //!< total parameters
  double active_params_billion = 0;  //!< per token (MoE); = params for dense
  AttentionKind attention = AttentionKind::kGQA;
};

struct ModelPreset {
  std::string name;                   //!< KAITO legacy name, e.g. "phi-3-mini-4k-instruct"
  std::string hf_id;                  //!< e.g. "microsoft/Phi-3-mini-4k-instruct"
  std::vector<std::string> aliases;   //!< other accepted names
  std::string family;                 //!< "phi3", "llama", ...
  double weights_gib = 0;             //!< TotalSafeTensorFileSize used for sizing
  std::string weight_dtype = "bf16";  //!< bf16, fp16, fp8, int4 ...
  int64_t bytes_per_token = 0;        //!< KV cache bytes per token (fp16), as KAITO computes it
  int64_t model_token_limit = 2048;   //!< max_position_embeddings
  double disk_gib = 0;                //!< storage request for the node
  ModelArchitecture arch;
  bool supports_distributed = true;   //!< multi-node (vLLM + Ray) allowed
  bool transformers_runtime = false;  //!< has transformers runtime params
  bool tuning = false;                //!< LoRA/QLoRA tuning supported
  double tuning_memory_gib = 0;
  bool gated = false;  //!< needs modelAccessSecret (HF_TOKEN)
  bool deprecated = false;
  bool disallow_lora = false;       //!< vLLM cannot serve LoRA adapters for this model
  bool download_at_runtime = true;  //!< weights pulled from Hugging Face at start-up
  std::string tool_call_parser;
  std::string reasoning_parser;
  std::string dtype_flag = "bfloat16";  //!< vLLM --dtype
  std::string source;                   //!< where the numbers come from

  //! KAITO's ReadinessTimeout: clamp(15 min + 18 s per GiB of weights, 30 min, 180 min), in seconds.
  int64_t readiness_timeout_seconds() const;
  //! 2 (K,V) x layers x kvHeads x headDim x 2 bytes; MLA: (kv_lora_rank + qk_rope_head_dim) x layers x 2.
  int64_t derived_bytes_per_token() const;
};

//! All presets, looked up by legacy name, HF id or alias (case-sensitive like KAITO).
class PresetRegistry {
 public:
  //! Fails (kInvalid) when the name or an alias is already taken.
  Status add(ModelPreset preset);
  const ModelPreset* find(std::string_view name) const;
  const std::vector<ModelPreset>& all() const { return presets_; }
  //! Names sorted, for "Unsupported inference preset name" messages and `ktwin presets`.
  std::vector<std::string> names() const;

 private:
  std::vector<ModelPreset> presets_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace ktwin
