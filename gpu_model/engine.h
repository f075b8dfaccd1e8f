// A vLLM-like inference engine for one model replica in virtual time: continuous batching bounded by
// max_num_seqs and max_num_batched_tokens, chunked prefill (or prefill-only steps that pause decoding, as
// vLLM <= 0.5 and TGI do), a paged KV cache sized from GPU memory, recompute preemption when blocks run out,
// and max-model-len rejection. Step times come from a LatencyPredictor.
//
// Time contract: a step runs from `start` to `start + duration` (integer ns); advance_to(t) runs every step
// that STARTS before t (a step underway at t finishes, its completions carry their true finish time).
// A request submitted after advance_to(t) joins the first step that starts at or after its arrival.
// Decode-only stretches whose batch cannot change are jumped over in closed form; the results (every time,
// every counter, the ITL histogram) are bit-identical to stepping every token (EngineConfig::jump_ahead).
// Single-threaded; deterministic (no wall clock, no randomness).
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/time.h"
#include "gpu_model/predictor.h"

namespace ktwin::gpu {

inline constexpr Time kNever = INT64_MAX;

struct EngineConfig {
  int max_num_seqs = 256;
  int max_num_batched_tokens = 8192;
  bool chunked_prefill = true;  //!< false: whole prompts only (see next)
  //! Without chunking: true mixes whole prompts into decode steps (TensorRT-LLM in-flight batching without
  //! chunked context); false gives prompts steps of their own that pause decoding (vLLM <= 0.5, TGI).
  bool whole_prompts_with_decodes = false;
  int block_size = 16;                  //!< tokens per KV block
  double gpu_memory_utilization = 0.9;  //!< vLLM's flag (KAITO passes 0.84)
  //! TensorRT-LLM sizes the KV cache as this fraction of the memory left after weights (0: vLLM rule).
  double kv_fraction_of_free = 0;
  int64_t max_model_len = 0;  //!< 0: the model's max_position_embeddings
  int64_t num_kv_blocks = 0;  //!< >0 overrides the memory-derived size (tests)
  bool jump_ahead = true;
};

//! KV cache sizing per GPU of the replica (all TP x PP shards are alike).
struct KvCacheSizing {
  double weight_bytes_per_gpu = 0;
  double reserved_bytes_per_gpu = 0;  //!< activations, CUDA graphs, NCCL buffers, CUDA context
  double kv_bytes_per_gpu = 0;
  double kv_bytes_per_token_per_gpu = 0;
  int64_t num_blocks = 0;
  int64_t max_model_len = 0;
  std::string error;  //!< non-empty: the model does not fit (vLLM would fail to start)
};
KvCacheSizing size_kv_cache(const Deployment& d, const EngineConfig& c);

struct Request {
  int64_t id = 0;
  Time arrival = 0;
  int32_t prompt_tokens = 0;
  int32_t output_tokens = 1;  //!< tokens to generate (>= 1)
};

struct Completion {
  int64_t id = 0;
  Time arrival = 0;
  Time first_token = 0;  //!< TTFT = first_token - arrival
  Time finish = 0;       //!< E2E = finish - arrival; TPOT = (finish - first_token) / (output_tokens - 1)
  int32_t prompt_tokens = 0;
  int32_t output_tokens = 0;
  int32_t preemptions = 0;
  Duration max_itl = 0;  //!< longest gap between two of its tokens
  bool operator==(const Completion&) const = default;
};

enum class SubmitResult { kAccepted, kTooLong, kExceedsKvCache, kInvalid };
const char* submit_result_name(SubmitResult r);

//! Inter-token latencies of all tokens, in log buckets 1% wide from 1 us to ~1000 s (exact counts).
class ItlHistogram {
 public:
  ItlHistogram();
  void add(Duration d, int64_t count);
  int64_t count() const { return total_; }
  //! q in [0,1]; the geometric middle of the bucket holding the q-quantile; 0 when empty.
  double quantile_ns(double q) const;
  double mean_ns() const { return total_ > 0 ? static_cast<double>(sum_ns_) / static_cast<double>(total_) : 0; }
  int bucket_of(Duration d) const;
  Duration bucket_upper(int b) const;  //!< exclusive upper edge of bucket b (kNever for the last)
  void add_to_bucket(int b, int64_t count, Duration sum);
  //! Adds another histogram's counts (same bucket edges): the ITLs of several replicas together.
  void merge(const ItlHistogram& other);
  bool operator==(const ItlHistogram&) const = default;

 private:
  std::vector<Duration> edges_;
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
  __int128 sum_ns_ = 0;
};

struct EngineStats {
  int64_t steps = 0;
  int64_t jumps = 0;  //!< closed-form decode stretches taken
  int64_t prefill_tokens = 0;
  int64_t decode_tokens = 0;
  int64_t preemptions = 0;
  int64_t rejected = 0;
  Duration busy = 0;
  bool operator==(const EngineStats&) const = default;
};

class ReplicaEngine {
 public:
  //! `predictor` must outlive the engine. Throws InputError when the model does not fit the GPUs.
  ReplicaEngine(const LatencyPredictor& predictor, EngineConfig config);

  //! Queues a request (arrival must not be earlier than the last submitted arrival). Requests longer than
  //! max-model-len or the whole KV cache are rejected (counted, never run), as vLLM answers them with an error.
  SubmitResult submit(const Request& r);
  //! Time of the end of the next step that can finish a request or change the batch; kNever when idle.
  Time next_event_time();
  //! Runs every step that starts before t; appends finished requests in finish order.
  void advance_to(Time t, std::vector<Completion>& out);
  std::vector<Completion> advance_to(Time t) {
    std::vector<Completion> out;
    advance_to(t, out);
    return out;
  }

  bool idle() const { return running_.empty() && waiting_.empty() && pending_.empty(); }
  Time now() const { return now_; }
  size_t running() const { return running_.size(); }
  size_t waiting() const { return waiting_.size(); }
  int64_t free_blocks() const { return free_blocks_; }
  const KvCacheSizing& kv() const { return kv_; }
  const EngineConfig& config() const { return cfg_; }
  const EngineStats& stats() const { return stats_; }
  const ItlHistogram& itl() const { return itl_; }

 private:
  struct Seq {
    int64_t id = 0;
    Time arrival = 0, first_token = -1, last_token = 0;
    Duration max_itl = 0;
    int32_t prompt = 0, output = 0, generated = 0;
    int32_t kv = 0;      //!< tokens whose KV is cached
    int32_t target = 0;  //!< prefill target: prompt + generated at (re)admission
    int32_t blocks = 0;
    int32_t preemptions = 0;
    bool prefilling() const { return kv < target; }
  };
  struct Plan {
    bool valid = false;
    bool decode_only = false;
    Time start = 0, end = 0;
    int64_t steps = 0;  //!< decode-only: steps in this stretch (1 when not jumping)
    // fixed-point decode line for decode-only plans: step k lasts (a + b k) >> kShift ns
    int64_t a = 0, b = 0;
    std::vector<int> preempt;                     //!< running slots to preempt first (victims, in order)
    std::vector<std::pair<int, int32_t>> chunks;  //!< (slot, tokens) prefill work, running then admitted
    int admit = 0;                                //!< waiting requests admitted (front of the queue)
    bool decode_running = true;                   //!< false for a prefill-only step (decoding paused)
    int64_t decodes = 0;
  };

  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  int64_t blocks_for(int64_t tokens) const { return (tokens + cfg_.block_size - 1) / cfg_.block_size; }
  bool can_admit(const Seq& s, int64_t free) const;
  void plan();
  void plan_decode_only();
  int64_t decode_steps_before(Time t) const;
  Duration decode_prefix(int64_t steps) const;
  void run_decode(int64_t steps, std::vector<Completion>& out);
  void run_step(std::vector<Completion>& out);
  void emit_token(Seq& s, Time at);
  void finish(int slot, std::vector<Completion>& out);
  void preempt(int slot);

  const LatencyPredictor& predictor_;
  EngineConfig cfg_;
  KvCacheSizing kv_;
  Time now_ = 0;
  int64_t free_blocks_ = 0;
  int64_t watermark_ = 0;
  std::vector<Seq> slots_;
  std::vector<int> free_slots_;
  std::vector<int> running_;  //!< admission order; preemption takes the back
  std::deque<int> waiting_;
  Plan plan_;
  EngineStats stats_;
  ItlHistogram itl_;
  std::vector<PrefillChunk> scratch_chunks_;
  std::vector<char> chunk_mark_;
  std::vector<Completion> pending_;  //!< finished while submit() caught up with an arrival
};

}  // namespace ktwin::gpu
