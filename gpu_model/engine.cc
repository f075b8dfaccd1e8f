// The replica engine: scheduling, KV blocks, preemption and the closed-form decode jump (see engine.h).
#include "gpu_model/engine.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "core/input_error.h"

namespace ktwin::gpu {
namespace {

// Decode-only step times are kept in fixed point (2^-20 ns) so that a stretch of steps can be summed exactly:
// step k of a stretch lasts floor((a + b k) / 2^20) ns, and floor_sum() adds any number of them in O(log).
constexpr int kShift = 20;
constexpr int64_t kOne = int64_t{1} << kShift;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
// Memory vLLM/TensorRT-LLM keep outside the KV cache beyond the activation peak: CUDA context, CUDA graphs,
// NCCL buffers, allocator slack (vLLM's profiler reports ~1-2 GiB of "non-torch" memory on data-centre GPUs).
constexpr double kFixedReserveBytes = 1.5 * kGiB;

using u128 = unsigned __int128;

//! sum_{k=0}^{n-1} floor((a + b k) / m) for a, b >= 0, m > 0 (the classic Euclid-like reduction).
u128 floor_sum(u128 n, u128 m, u128 a, u128 b) {
  u128 ans = 0;
  while (true) {
    if (a >= m) {
      ans += n * (a / m);
      a %= m;
    }
    if (b >= m) {
      ans += n * (n - 1) / 2 * (b / m);
      b %= m;
    }
    const u128 y_max = b * n + a;
    if (y_max < m) break;
    n = y_max / m;
    a = y_max % m;
    std::swap(m, b);
  }
  return ans;
}

}  // namespace

const char* submit_result_name(SubmitResult r) {
  switch (r) {
    case SubmitResult::kAccepted:
      return "accepted";
    case SubmitResult::kTooLong:
      return "longer than max-model-len";
    case SubmitResult::kExceedsKvCache:
      return "larger than the whole KV cache";
    case SubmitResult::kInvalid:
      return "invalid (needs prompt_tokens >= 1 and output_tokens >= 1)";
  }
  return "?";
}

KvCacheSizing size_kv_cache(const Deployment& d, const EngineConfig& c) {
  KvCacheSizing k;
  const ModelArchitecture& a = d.model.arch;
  const double shards = static_cast<double>(d.tp) * d.pp;
  // Quantised checkpoints keep the embedding and LM head in 16-bit (ModelOpt, llm-compressor, AutoAWQ).
  const double emb_params = static_cast<double>(a.vocab_size) * a.hidden_size * (d.model.tied_embeddings ? 1 : 2);
  const double wb = dtype_bytes(d.weight_dtype);
  k.weight_bytes_per_gpu = ((a.params_billion * 1e9 - emb_params) * wb + emb_params * std::max(wb, 2.0)) / shards;
  const double kvb = dtype_bytes(d.kv_dtype);
  const double layers = static_cast<double>(a.num_layers) / d.pp;
  if (a.attention == AttentionKind::kMLA) {
    k.kv_bytes_per_token_per_gpu = layers * (a.kv_lora_rank + a.qk_rope_head_dim) * kvb;
  } else {
    k.kv_bytes_per_token_per_gpu =
        2 * layers * std::ceil(static_cast<double>(a.num_kv_heads) / d.tp) * a.head_dim * kvb;
  }
  // Activation peak of a full token budget (residual, QKV, gated FFN in 16-bit) + FP32 logits of a full batch.
  const double ffn = static_cast<double>(a.intermediate_size) * std::max(1, a.experts_per_token) / d.tp;
  const double act = static_cast<double>(c.max_num_batched_tokens) * (4.0 * a.hidden_size / d.tp + 2 * ffn) * 2 +
                     static_cast<double>(c.max_num_seqs) * a.vocab_size * 4.0 / d.tp;
  k.reserved_bytes_per_gpu = kFixedReserveBytes + act;
  const double usable = d.gpu.usable_memory_bytes();
  k.kv_bytes_per_gpu = c.kv_fraction_of_free > 0
                           ? c.kv_fraction_of_free * (usable - k.weight_bytes_per_gpu - k.reserved_bytes_per_gpu)
                           : usable * c.gpu_memory_utilization - k.weight_bytes_per_gpu - k.reserved_bytes_per_gpu;
  const double block_bytes = k.kv_bytes_per_token_per_gpu * c.block_size;
  k.num_blocks = k.kv_bytes_per_gpu > block_bytes ? static_cast<int64_t>(k.kv_bytes_per_gpu / block_bytes) : 0;
  if (c.num_kv_blocks > 0) k.num_blocks = c.num_kv_blocks;
  const int64_t capacity = k.num_blocks * c.block_size;
  char buf[320];
  if (k.num_blocks <= 0) {
    std::snprintf(buf, sizeof buf,
                  "%s does not fit on %d x %s: %.1f GiB of weights + %.1f GiB reserved per GPU leave no KV cache "
                  "(usable %.1f GiB x %.2f)",
                  d.model.hf_id.c_str(), d.tp * d.pp, d.gpu.id.c_str(), k.weight_bytes_per_gpu / kGiB,
                  k.reserved_bytes_per_gpu / kGiB, usable / kGiB, c.gpu_memory_utilization);
    k.error = buf;
    return k;
  }
  k.max_model_len = c.max_model_len > 0 ? c.max_model_len : d.model.max_position_embeddings;
  if (k.max_model_len <= 0) k.max_model_len = capacity;
  if (k.max_model_len > capacity) {
    if (c.max_model_len > 0) {
      std::snprintf(buf, sizeof buf,
                    "max-model-len %lld is larger than the KV cache can hold (%lld tokens on %s); lower it or raise "
                    "gpu-memory-utilization",
                    static_cast<long long>(c.max_model_len), static_cast<long long>(capacity), d.gpu.id.c_str());
      k.error = buf;
      return k;
    }
    k.max_model_len = capacity;  // like vLLM's automatic max-model-len: what the cache can hold
  }
  return k;
}

// ---------------------------------------------------------------------------------------------------------
ItlHistogram::ItlHistogram() {
  // Edges grow by exactly 1% in integer arithmetic (no pow: identical on every machine).
  edges_.push_back(0);
  for (Duration e = 1000; e < 2'000'000'000'000; e += std::max<Duration>(1, e / 100)) edges_.push_back(e);
  counts_.assign(edges_.size(), 0);
}

int ItlHistogram::bucket_of(Duration d) const {
  auto it = std::upper_bound(edges_.begin(), edges_.end(), d);
  return static_cast<int>(it - edges_.begin()) - 1;
}

Duration ItlHistogram::bucket_upper(int b) const {
  return static_cast<size_t>(b) + 1 < edges_.size() ? edges_[static_cast<size_t>(b) + 1] : kNever;
}

void ItlHistogram::add_to_bucket(int b, int64_t count, Duration sum) {
  counts_[static_cast<size_t>(b)] += count;
  total_ += count;
  sum_ns_ += sum;
}

void ItlHistogram::merge(const ItlHistogram& other) {
  for (size_t b = 0; b < counts_.size() && b < other.counts_.size(); ++b) counts_[b] += other.counts_[b];
  total_ += other.total_;
  sum_ns_ += other.sum_ns_;
}

void ItlHistogram::add(Duration d, int64_t count) {
  if (d < 0) d = 0;
  add_to_bucket(bucket_of(d), count, d * count);
}

double ItlHistogram::quantile_ns(double q) const {
  if (total_ == 0) return 0;
  const double want = std::clamp(q, 0.0, 1.0) * static_cast<double>(total_);
  int64_t cum = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    cum += counts_[b];
    if (counts_[b] > 0 && static_cast<double>(cum) >= want) {
      const double lo = std::max<double>(1, static_cast<double>(edges_[b]));
      const double hi = b + 1 < edges_.size() ? static_cast<double>(edges_[b + 1]) : lo * 1.01;
      return std::sqrt(lo * hi);
    }
  }
  return static_cast<double>(edges_.back());
}

// ---------------------------------------------------------------------------------------------------------
ReplicaEngine::ReplicaEngine(const LatencyPredictor& predictor, EngineConfig config)
    : predictor_(predictor), cfg_(config) {
  if (cfg_.max_num_seqs < 1 || cfg_.block_size < 1 || cfg_.max_num_batched_tokens < cfg_.max_num_seqs) {
    throw InputError("", 0, 0, "engine",
                     "needs max_num_seqs >= 1, block_size >= 1 and max_num_batched_tokens >= max_num_seqs");
  }
  kv_ = size_kv_cache(predictor.deployment(), cfg_);
  if (!kv_.error.empty()) throw InputError("", 0, 0, "engine", kv_.error);
  free_blocks_ = kv_.num_blocks;
  watermark_ = kv_.num_blocks / 100;  // vLLM keeps 1% of blocks free when admitting, to avoid instant preemption
}

SubmitResult ReplicaEngine::submit(const Request& r) {
  if (r.prompt_tokens < 1 || r.output_tokens < 1) {
    ++stats_.rejected;
    return SubmitResult::kInvalid;
  }
  const int64_t total = static_cast<int64_t>(r.prompt_tokens) + r.output_tokens;
  if (total > kv_.max_model_len) {
    ++stats_.rejected;
    return SubmitResult::kTooLong;
  }
  if (blocks_for(total) + watermark_ > kv_.num_blocks) {
    ++stats_.rejected;
    return SubmitResult::kExceedsKvCache;
  }
  // Steps that start before the arrival run without it (callers normally advance first; this keeps it exact).
  if (has_work() && r.arrival > now_) advance_to(r.arrival, pending_);
  if (!has_work()) now_ = std::max(now_, r.arrival);
  Seq s;
  s.id = r.id;
  s.arrival = r.arrival;
  s.prompt = r.prompt_tokens;
  s.output = r.output_tokens;
  s.target = r.prompt_tokens;
  int slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[static_cast<size_t>(slot)] = s;
  } else {
    slot = static_cast<int>(slots_.size());
    slots_.push_back(s);
  }
  waiting_.push_back(slot);
  plan_.valid = false;
  return SubmitResult::kAccepted;
}

bool ReplicaEngine::can_admit(const Seq& s, int64_t free) const { return blocks_for(s.target) + watermark_ <= free; }

void ReplicaEngine::plan() {
  Plan& p = plan_;
  p.valid = true;
  p.decode_only = false;
  p.start = now_;
  p.steps = 1;
  p.preempt.clear();
  p.chunks.clear();
  p.admit = 0;
  p.decodes = 0;
  p.decode_running = true;
  int64_t free = free_blocks_;

  // Prefill-only step (vLLM <= 0.5, TGI): whole prompts of waiting requests, decoding paused.
  if (!cfg_.chunked_prefill && !cfg_.whole_prompts_with_decodes && !waiting_.empty()) {
    int64_t budget = std::max<int64_t>(cfg_.max_num_batched_tokens, kv_.max_model_len);
    for (size_t i = 0; i < waiting_.size(); ++i) {
      const Seq& s = slots_[static_cast<size_t>(waiting_[i])];
      if (running_.size() + i >= static_cast<size_t>(cfg_.max_num_seqs) || s.target > budget || !can_admit(s, free))
        break;
      free -= blocks_for(s.target);
      budget -= s.target;
      p.chunks.emplace_back(waiting_[i], s.target);
      ++p.admit;
    }
    if (p.admit > 0) {
      scratch_chunks_.clear();
      for (const auto& [slot, tokens] : p.chunks) scratch_chunks_.push_back({tokens, 0, true});
      const double secs = predictor_.predict(StepShape{scratch_chunks_, 0, 0}).total();
      p.end = p.start + std::max<Duration>(1, std::llround(std::min(secs, 1e4) * 1e9));
      p.decode_running = false;
      return;
    }
  }
  p.decode_running = true;

  // Decodes first: each needs a slot for its next token; take blocks from the newest sequences when short.
  size_t end = running_.size();
  for (size_t i = 0; i < end; ++i) {
    const Seq& s = slots_[static_cast<size_t>(running_[i])];
    if (s.prefilling() || blocks_for(s.kv + 1) <= s.blocks) continue;
    while (free == 0 && end - 1 > i) {
      const int victim = running_[--end];
      p.preempt.push_back(victim);
      free += slots_[static_cast<size_t>(victim)].blocks;
    }
    if (free == 0) {  // nothing left to take but itself
      p.preempt.push_back(running_[i]);
      free += s.blocks;
      end = i;
      break;
    }
    --free;
  }
  int64_t budget = cfg_.max_num_batched_tokens;
  for (size_t i = 0; i < end; ++i) {
    const Seq& s = slots_[static_cast<size_t>(running_[i])];
    if (!s.prefilling()) ++p.decodes;
  }
  budget -= p.decodes;
  if (cfg_.chunked_prefill) {
    for (size_t i = 0; i < end && budget > 0; ++i) {
      const Seq& s = slots_[static_cast<size_t>(running_[i])];
      if (!s.prefilling()) continue;
      const int32_t chunk = static_cast<int32_t>(std::min<int64_t>(s.target - s.kv, budget));
      p.chunks.emplace_back(running_[i], chunk);
      budget -= chunk;
    }
    for (size_t i = 0; i < waiting_.size() && budget > 0; ++i) {
      const Seq& s = slots_[static_cast<size_t>(waiting_[i])];
      if (end + i >= static_cast<size_t>(cfg_.max_num_seqs) || !can_admit(s, free)) break;
      free -= blocks_for(s.target);
      const int32_t chunk = static_cast<int32_t>(std::min<int64_t>(s.target, budget));
      p.chunks.emplace_back(waiting_[i], chunk);
      budget -= chunk;
      ++p.admit;
    }
  } else if (cfg_.whole_prompts_with_decodes) {
    // Whole prompts join the step while they fit the token budget (the first may use max-model-len's worth,
    // so that no prompt the engine accepted can starve).
    int64_t prompt_budget = std::max<int64_t>(budget, kv_.max_model_len - p.decodes);
    for (size_t i = 0; i < waiting_.size(); ++i) {
      const Seq& s = slots_[static_cast<size_t>(waiting_[i])];
      if (end + i >= static_cast<size_t>(cfg_.max_num_seqs) || !can_admit(s, free)) break;
      if (s.target > (p.chunks.empty() ? prompt_budget : budget)) break;
      free -= blocks_for(s.target);
      p.chunks.emplace_back(waiting_[i], s.target);
      budget -= s.target;
      prompt_budget -= s.target;
      ++p.admit;
    }
  }
  if (p.preempt.empty() && p.chunks.empty() && p.admit == 0 && p.decodes > 0) {
    plan_decode_only();
    return;
  }
  // A mixed step (or one with preemption): its duration comes straight from the predictor.
  scratch_chunks_.clear();
  for (const auto& [slot, tokens] : p.chunks) {
    const Seq& s = slots_[static_cast<size_t>(slot)];
    scratch_chunks_.push_back({tokens, s.kv, s.kv + tokens == s.target});
  }
  int64_t ctx = 0;
  for (size_t i = 0; i < end; ++i) {
    const Seq& s = slots_[static_cast<size_t>(running_[i])];
    if (!s.prefilling()) ctx += s.kv + 1;
  }
  StepShape shape{scratch_chunks_, p.decodes, ctx};
  const double secs = p.decodes + static_cast<int64_t>(p.chunks.size()) > 0 ? predictor_.predict(shape).total() : 0;
  const Duration dur = std::max<Duration>(1, std::llround(std::min(secs, 1e4) * 1e9));
  p.end = p.start + dur;
}

void ReplicaEngine::plan_decode_only() {
  Plan& p = plan_;
  p.decode_only = true;
  const int64_t n = static_cast<int64_t>(running_.size());
  int64_t ctx = 0;
  int64_t k_finish = INT64_MAX;
  for (int slot : running_) {
    const Seq& s = slots_[static_cast<size_t>(slot)];
    ctx += s.kv + 1;
    k_finish = std::min<int64_t>(k_finish, s.output - s.generated);
  }
  const DecodeLine line = predictor_.decode_line(n);
  const int64_t c_fx = std::llround(std::clamp(line.base_s, 0.0, 1e4) * 1e9 * static_cast<double>(kOne));
  const int64_t d_fx = std::llround(std::clamp(line.per_context_token_s, 0.0, 1.0) * 1e9 * static_cast<double>(kOne));
  p.a = std::max(c_fx + d_fx * ctx + kOne / 2, kOne);  // every step lasts at least 1 ns
  p.b = d_fx * n;
  int64_t steps = 1;
  if (cfg_.jump_ahead && k_finish > 1) {
    // Largest stretch in which no request finishes early and the free blocks cover every block boundary.
    auto need = [&](int64_t k) {
      int64_t total = 0;
      for (int slot : running_) {
        const Seq& s = slots_[static_cast<size_t>(slot)];
        total += std::max<int64_t>(0, blocks_for(static_cast<int64_t>(s.kv) + k) - s.blocks);
      }
      return total;
    };
    if (need(k_finish) <= free_blocks_) {
      steps = k_finish;
    } else {
      int64_t lo = 1, hi = k_finish;  // need(lo) <= free (the plan found no preemption), need(hi) > free
      while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        (need(mid) <= free_blocks_ ? lo : hi) = mid;
      }
      steps = lo;
    }
  }
  p.steps = steps;
  p.end = p.start + decode_prefix(steps);
}

Duration ReplicaEngine::decode_prefix(int64_t steps) const {
  return static_cast<Duration>(floor_sum(static_cast<u128>(steps), static_cast<u128>(kOne), static_cast<u128>(plan_.a),
                                         static_cast<u128>(plan_.b)));
}

int64_t ReplicaEngine::decode_steps_before(Time t) const {
  // Largest m <= steps with start of step m-1 (= now + prefix(m-1)) < t.
  int64_t lo = 1, hi = plan_.steps;
  if (now_ + decode_prefix(hi - 1) < t) return hi;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (now_ + decode_prefix(mid - 1) < t ? lo : hi) = mid;
  }
  return lo;
}

void ReplicaEngine::emit_token(Seq& s, Time at) {
  ++s.generated;
  if (s.first_token < 0) {
    s.first_token = at;
  } else {
    const Duration gap = at - s.last_token;
    itl_.add(gap, 1);
    s.max_itl = std::max(s.max_itl, gap);
  }
  s.last_token = at;
}

void ReplicaEngine::finish(int slot, std::vector<Completion>& out) {
  const Seq& s = slots_[static_cast<size_t>(slot)];
  free_blocks_ += s.blocks;
  out.push_back({s.id, s.arrival, s.first_token, s.last_token, s.prompt, s.output, s.preemptions, s.max_itl});
  free_slots_.push_back(slot);
}

void ReplicaEngine::preempt(int slot) {
  Seq& s = slots_[static_cast<size_t>(slot)];
  free_blocks_ += s.blocks;
  s.blocks = 0;
  s.kv = 0;
  s.target = s.prompt + s.generated;  // recompute: prompt and the tokens generated so far become the prompt
  ++s.preemptions;
  ++stats_.preemptions;
}

void ReplicaEngine::run_decode(int64_t m, std::vector<Completion>& out) {
  const int64_t n = static_cast<int64_t>(running_.size());
  const Duration total = decode_prefix(m);
  const Time end0 = now_ + ((plan_.a) >> kShift);
  const Time end = now_ + total;
  // Step 0's gap depends on when each sequence last produced a token; later gaps are the step times.
  Duration later_max = 0;
  if (m > 1) {
    later_max = static_cast<Duration>((plan_.a + plan_.b * (m - 1)) >> kShift);
    int64_t k = 1;
    while (k <= m - 1) {
      const Duration v = (plan_.a + plan_.b * k) >> kShift;
      const int bucket = itl_.bucket_of(v);
      const Duration upper = itl_.bucket_upper(bucket);
      int64_t last = m - 1;
      if (upper != kNever && plan_.b > 0) {
        const __int128 lim = (static_cast<__int128>(upper) << kShift) - plan_.a;  // T(j) < upper <=> b j < lim
        last = static_cast<int64_t>(std::min<__int128>(m - 1, (lim - 1) / plan_.b));
      }
      const Duration sum = decode_prefix(last + 1) - decode_prefix(k);
      itl_.add_to_bucket(bucket, (last - k + 1) * n, sum * n);
      k = last + 1;
    }
  }
  for (int slot : running_) {
    Seq& s = slots_[static_cast<size_t>(slot)];
    const Duration gap = end0 - s.last_token;
    itl_.add(gap, 1);
    s.max_itl = std::max({s.max_itl, gap, later_max});
    s.kv += static_cast<int32_t>(m);
    s.generated += static_cast<int32_t>(m);
    s.last_token = end;
    const int64_t blocks = blocks_for(s.kv);
    if (blocks > s.blocks) {
      free_blocks_ -= blocks - s.blocks;
      s.blocks = static_cast<int32_t>(blocks);
    }
  }
  stats_.steps += m;
  stats_.jumps += m > 1 ? 1 : 0;
  stats_.decode_tokens += n * m;
  stats_.busy += total;
  now_ = end;
  size_t keep = 0;
  for (int slot : running_) {
    const Seq& s = slots_[static_cast<size_t>(slot)];
    if (s.generated >= s.output)
      finish(slot, out);
    else
      running_[keep++] = slot;
  }
  running_.resize(keep);
}

void ReplicaEngine::run_step(std::vector<Completion>& out) {
  Plan& p = plan_;
  const Time end = p.end;
  // Admissions leave the waiting queue before preempted sequences go back to its front.
  for (int i = 0; i < p.admit; ++i) {
    const int slot = waiting_.front();
    waiting_.pop_front();
    Seq& s = slots_[static_cast<size_t>(slot)];
    s.blocks = static_cast<int32_t>(blocks_for(s.target));
    free_blocks_ -= s.blocks;
    running_.push_back(slot);
  }
  for (auto it = p.preempt.rbegin(); it != p.preempt.rend(); ++it) {
    preempt(*it);
    running_.erase(std::find(running_.begin(), running_.end(), *it));
    waiting_.push_front(*it);
  }
  // Chunks first (they reference sequences by slot), then decodes of everything else that is running.
  std::vector<char>& chunked = chunk_mark_;
  if (chunked.size() < slots_.size()) chunked.resize(slots_.size(), 0);
  for (const auto& [slot, tokens] : p.chunks) {
    Seq& s = slots_[static_cast<size_t>(slot)];
    chunked[static_cast<size_t>(slot)] = 1;
    s.kv += tokens;
    stats_.prefill_tokens += tokens;
    if (s.kv == s.target) emit_token(s, end);
  }
  for (int slot : running_) {
    if (!p.decode_running) break;  // prefill-only step: decoding pauses
    if (chunked[static_cast<size_t>(slot)]) continue;
    Seq& s = slots_[static_cast<size_t>(slot)];
    if (s.prefilling()) continue;  // a prefill that got no budget this step
    ++s.kv;
    const int64_t blocks = blocks_for(s.kv);
    if (blocks > s.blocks) {
      free_blocks_ -= blocks - s.blocks;
      s.blocks = static_cast<int32_t>(blocks);
    }
    emit_token(s, end);
    ++stats_.decode_tokens;
  }
  for (const auto& [slot, tokens] : p.chunks) chunked[static_cast<size_t>(slot)] = 0;
  ++stats_.steps;
  stats_.busy += end - now_;
  now_ = end;
  size_t keep = 0;
  for (int slot : running_) {
    const Seq& s = slots_[static_cast<size_t>(slot)];
    if (!s.prefilling() && s.generated >= s.output)
      finish(slot, out);
    else
      running_[keep++] = slot;
  }
  running_.resize(keep);
}

Time ReplicaEngine::next_event_time() {
  if (!pending_.empty()) return pending_.front().finish;
  if (!has_work()) return kNever;
  if (!plan_.valid) plan();
  return plan_.end;
}

void ReplicaEngine::advance_to(Time t, std::vector<Completion>& out) {
  if (!pending_.empty() && &out != &pending_) {
    out.insert(out.end(), pending_.begin(), pending_.end());
    pending_.clear();
  }
  while (has_work()) {
    if (!plan_.valid) plan();
    if (plan_.start >= t) break;
    if (plan_.decode_only)
      run_decode(decode_steps_before(t), out);
    else
      run_step(out);
    plan_.valid = false;
  }
}

}  // namespace ktwin::gpu
