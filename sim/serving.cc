#include "sim/serving.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "catalog/catalog.h"
#include "cluster_model/kubelet.h"
#include "core/api/workspace.h"
#include "core/input_error.h"
#include "core/k8s/conditions.h"
#include "core/k8s/selector.h"
#include "gpu_model/calibration.h"
#include "gpu_model/engine.h"
#include "gpu_model/predictor.h"
#include "sim/event_log.h"
#include "sim/kernel.h"
#include "sim/rng.h"

namespace ktwin::sim {

namespace {

double ms(Duration d) { return static_cast<double>(d) / static_cast<double>(kMillisecond); }

struct TraceRow {
  Duration at = 0;
  int32_t prompt = 0, output = 0;
};

// arrival_s,prompt_tokens,output_tokens; or the Azure LLM inference trace (TIMESTAMP,ContextTokens,GeneratedTokens).
std::vector<TraceRow> read_trace(const std::string& path, const std::string& shown) {
  auto bad = [&](int line, const std::string& msg) { return InputError(shown, line, 1, "trace", msg); };
  std::ifstream in(path, std::ios::binary);
  if (!in) throw bad(0, "cannot read the trace file " + path);
  std::string line;
  if (!std::getline(in, line)) throw bad(1, "the trace file is empty; expected a header line");
  auto split = [](const std::string& l) {
    std::vector<std::string> out;
    std::stringstream ss(l);
    for (std::string cell; std::getline(ss, cell, ',');) {
      while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
      out.push_back(cell);
    }
    return out;
  };
  const auto header = split(line);
  auto col = [&](std::initializer_list<const char*> names) -> int {
    for (size_t i = 0; i < header.size(); ++i)
      for (const char* n : names)
        if (header[i] == n) return static_cast<int>(i);
    return -1;
  };
  const int c_at = col({"arrival_s", "TIMESTAMP"});
  const int c_in = col({"prompt_tokens", "ContextTokens"});
  const int c_out = col({"output_tokens", "GeneratedTokens"});
  if (c_at < 0 || c_in < 0 || c_out < 0)
    throw bad(1,
              "the header must name arrival_s,prompt_tokens,output_tokens (or the Azure trace's "
              "TIMESTAMP,ContextTokens,GeneratedTokens)");
  const bool azure = header[static_cast<size_t>(c_at)] == "TIMESTAMP";
  std::vector<TraceRow> rows;
  double first_ts = 0;
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty() || line == "\r") continue;
    const auto cells = split(line);
    const size_t need = static_cast<size_t>(std::max({c_at, c_in, c_out}));
    if (cells.size() <= need) throw bad(n, "expected " + std::to_string(header.size()) + " columns");
    TraceRow r;
    try {
      double t;
      if (azure) {  // "2023-11-16 18:15:46.6805900": seconds of the day are enough for relative times
        const std::string& ts = cells[static_cast<size_t>(c_at)];
        const size_t sp = ts.find(' ');
        if (sp == std::string::npos || ts.size() < sp + 9) throw std::invalid_argument("timestamp");
        t = std::stod(ts.substr(sp + 1, 2)) * 3600 + std::stod(ts.substr(sp + 4, 2)) * 60 +
            std::stod(ts.substr(sp + 7));
        if (rows.empty()) first_ts = t;
        t -= first_ts;
      } else {
        t = std::stod(cells[static_cast<size_t>(c_at)]);
      }
      const long long in_tok = std::stoll(cells[static_cast<size_t>(c_in)]);
      const long long out_tok = std::stoll(cells[static_cast<size_t>(c_out)]);
      if (t < 0 || in_tok < 1 || out_tok < 1) throw std::invalid_argument("range");
      r.at = from_seconds(t);
      r.prompt = static_cast<int32_t>(std::min<long long>(in_tok, INT32_MAX));
      r.output = static_cast<int32_t>(std::min<long long>(out_tok, INT32_MAX));
    } catch (const std::exception&) {
      throw bad(n, "expected a time >= 0 and token counts >= 1, got \"" + line + "\"");
    }
    if (!rows.empty() && r.at < rows.back().at) throw bad(n, "arrival times must not decrease");
    rows.push_back(r);
  }
  return rows;
}

// What arriving requests see (Poisson arrivals see time averages): the KV cache use of the endpoint they
// land on, and the requests waiting ahead of them (gateway queue + that engine's queue).
// A round window giving about 120 points over the run, at least a second.
Duration series_window(Duration run) {
  static constexpr int64_t kSteps[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600};
  for (int64_t step : kSteps)
    if (run / (step * kSecond) <= 120) return step * kSecond;
  return 3600 * kSecond;
}

struct ArrivalGauges {
  double kv_sum = 0, kv_max = 0;
  int64_t kv_samples = 0;
  int64_t waiting_sum = 0, waiting_max = 0, waiting_samples = 0;
  void add(std::optional<double> kv, int64_t waiting) {
    if (kv) {
      kv_sum += *kv;
      kv_max = std::max(kv_max, *kv);
      ++kv_samples;
    }
    waiting_sum += waiting;
    waiting_max = std::max(waiting_max, waiting);
    ++waiting_samples;
  }
};

}  // namespace

struct ServingModel::Impl {
  struct Req {
    int64_t id = 0;
    Time arrival = 0;
    int32_t prompt = 0, output = 0;
    int source = -1;  //!< closed-loop source to notify, -1 for open loop
  };
  struct Endpoint {
    std::string pod;
    std::unique_ptr<gpu::LatencyPredictor> predictor;
    std::unique_ptr<gpu::ReplicaEngine> engine;
    EventId next;
    std::unordered_map<int64_t, Req> outstanding;
    Time since = 0;
  };
  struct Workspace {
    WorkspaceRef ref;
    std::vector<std::unique_ptr<Endpoint>> endpoints;  // sorted by pod name
    std::deque<Req> queue;
    size_t rr = 0;
    int64_t requests = 0, completed = 0, failed = 0, rejected = 0, out_tokens = 0, in_tokens = 0, max_queue = 0;
    LatencySamples ttft, tpot, e2el;  // ms
    gpu::ItlHistogram itl;
    Time first_arrival = -1, last_finish = -1;
    Duration busy = 0, endpoint_time = 0;
    const TrafficSpec* config = nullptr;  // routing, queue and SLO: the workspace's first traffic entry
    int64_t good = 0;                     // completed within the SLOs
    ArrivalGauges gauges;
    RequestSampler samples;
    struct Window {
      int64_t completed = 0, out_tokens = 0;
      std::vector<double> ttft, tpot;                            // ms, until the window is sealed
      std::optional<LatencySummary> ttft_summary, tpot_summary;  // once sealed
      ArrivalGauges gauges;
      void seal() {
        ttft_summary = summarize_latencies(std::move(ttft));
        tpot_summary = summarize_latencies(std::move(tpot));
        std::vector<double>().swap(ttft);
        std::vector<double>().swap(tpot);
      }
    };
    std::map<int64_t, Window> windows;  // by index of the window the request finished in
    int64_t windows_sealed_below = 0;   // requests finish in time order, so earlier windows are complete
  };
  struct Source {
    const TrafficSpec* spec = nullptr;
    Workspace* ws = nullptr;
    std::vector<Workspace*> pool;  // a gateway's members, ws first; empty for one target
    size_t cursor = 0;             // the gateway's round-robin position
    RngStream arrivals, tokens;
    std::vector<TraceRow> trace;
    size_t trace_pos = 0;
    Source(const TrafficSpec* s, Workspace* w, uint64_t seed, const std::string& name)
        : spec(s), ws(w), arrivals(seed, "traffic/arrivals/" + name), tokens(seed, "traffic/tokens/" + name) {}
  };

  Kernel& kernel;
  Cluster& cluster;
  const Scenario& sc;
  const catalog::Catalog& cat;
  EventLog& log;
  uint64_t seed;
  std::map<std::string, std::unique_ptr<Workspace>> workspaces;  // "ns/name"
  std::vector<std::unique_ptr<Source>> sources;
  std::unique_ptr<WatchSubscription> pod_watch;
  int64_t next_id = 1;
  bool stopped = false;
  std::set<std::string> unservable;  // pod uids that cannot be modelled (said once in the log)

  ProfileReader profile;
  std::string cloud;
  // Time-series windows: the scenario's metrics_window, or about 1/120 of the run for the results
  // database when the scenario sets none (the summary lists windows only when it sets one).
  Duration window = 0;

  Impl(Kernel& k, Cluster& c, const Scenario& s, const catalog::Catalog& ca, EventLog& l, uint64_t sd, ProfileReader p)
      : kernel(k),
        cluster(c),
        sc(s),
        cat(ca),
        log(l),
        seed(sd),
        profile(std::move(p)),
        cloud(cloud_kind_name(s.cluster.cloud)),
        window(s.metrics_window > 0 ? s.metrics_window : series_window(s.duration)) {}

  Workspace* workspace_of(const std::string& ns, const std::string& name) {
    auto it = workspaces.find(ns + "/" + name);
    return it == workspaces.end() ? nullptr : it->second.get();
  }

  Time end_of(const Source& s) const { return kSimEpoch + (s.spec->end ? *s.spec->end : sc.duration); }

  void start() {
    for (size_t i = 0; i < sc.traffic.size(); ++i) {
      const TrafficSpec& t = sc.traffic[i];
      auto member = [&](const WorkspaceRef& ref) {
        auto& ws = workspaces[ref.namespace_ + "/" + ref.name];
        if (!ws) {
          ws = std::make_unique<Workspace>();
          ws->ref = ref;
          ws->config = &t;
        }
        return ws.get();
      };
      auto src =
          std::make_unique<Source>(&t, member(t.workspace), seed, std::to_string(i) + "/" + t.workspace.to_string());
      for (const auto& ref : t.pool) src->pool.push_back(member(ref));
      if (t.arrival.process == ArrivalProcess::kTrace)
        src->trace = read_trace(t.arrival.resolved_trace_file, t.arrival.trace_file);
      sources.push_back(std::move(src));
    }
    pod_watch = cluster.watch("Pod", "", [this](const WatchEvent& ev) {
      const std::string* name = ev.object->meta.label(kaito::kLabelWorkspace);
      if (!name) return;
      if (Workspace* ws = workspace_of(ev.object->meta.namespace_, *name)) sync_endpoints(*ws);
    });
    for (size_t i = 0; i < sources.size(); ++i) {
      Source& s = *sources[i];
      const Time t0 = kSimEpoch + s.spec->start;
      switch (s.spec->arrival.process) {
        case ArrivalProcess::kClosedLoop:
          for (int64_t c = 0; c < s.spec->arrival.concurrency; ++c)
            kernel.post_at(t0, [this, i] { arrive(static_cast<int>(i)); });
          break;
        case ArrivalProcess::kTrace:
          if (!s.trace.empty()) kernel.post_at(t0 + s.trace[0].at, [this, i] { arrive(static_cast<int>(i)); });
          break;
        default:
          kernel.post_at(next_arrival(s, t0), [this, i] { arrive(static_cast<int>(i)); });
      }
    }
  }

  Duration gap(Source& s, double rate) {
    const double secs = s.spec->arrival.process == ArrivalProcess::kGamma
                            ? s.arrivals.gamma_mean_cv(1.0 / rate, s.spec->arrival.cv)
                            : s.arrivals.exponential(rate);
    return std::max<Duration>(1, from_seconds(secs));
  }

  // A daily cycle by thinning: candidates at the peak rate, each kept with probability rate(t) / peak.
  Time next_arrival(Source& s, Time now) {
    const ArrivalSpec& a = s.spec->arrival;
    if (a.diurnal_amplitude <= 0) return now + gap(s, a.rate_per_second);
    const double peak = a.rate_per_second * (1 + a.diurnal_amplitude);
    constexpr double kTwoPi = 6.283185307179586;
    for (Time t = now;;) {
      t += gap(s, peak);
      const double phase = kTwoPi * to_seconds(t - kSimEpoch - a.diurnal_peak) / to_seconds(a.diurnal_period);
      const double rate = a.rate_per_second * (1 + a.diurnal_amplitude * std::cos(phase));
      if (s.arrivals.uniform01() * peak < rate) return t;
    }
  }

  void arrive(int si) {
    if (stopped) return;
    Source& s = *sources[static_cast<size_t>(si)];
    const Time now = kernel.now();
    if (now >= end_of(s)) return;
    Req r;
    r.id = next_id++;
    r.arrival = now;
    const bool closed = s.spec->arrival.process == ArrivalProcess::kClosedLoop;
    if (s.spec->arrival.process == ArrivalProcess::kTrace) {
      r.prompt = s.trace[s.trace_pos].prompt;
      r.output = s.trace[s.trace_pos].output;
      if (s.spec->prompt_tokens) r.prompt = static_cast<int32_t>(s.spec->prompt_tokens->sample(s.tokens));
      if (s.spec->output_tokens) r.output = static_cast<int32_t>(s.spec->output_tokens->sample(s.tokens));
      if (++s.trace_pos < s.trace.size())
        kernel.post_at(kSimEpoch + s.spec->start + s.trace[s.trace_pos].at, [this, si] { arrive(si); });
    } else {
      r.prompt = static_cast<int32_t>(std::max<int64_t>(1, s.spec->prompt_tokens->sample(s.tokens)));
      r.output = static_cast<int32_t>(std::max<int64_t>(1, s.spec->output_tokens->sample(s.tokens)));
      if (!closed) kernel.post_at(next_arrival(s, now), [this, si] { arrive(si); });
    }
    if (closed) r.source = si;
    Workspace& ws = s.pool.empty() ? *s.ws : gateway_pick(s);
    ++ws.requests;
    if (ws.first_arrival < 0) ws.first_arrival = now;
    route(ws, r);
  }

  // A gateway over several workspaces sends each request to the member whose best endpoint has the fewest
  // requests in flight (or the next endpoint in turn); while none is ready, requests wait at the first.
  Workspace& gateway_pick(Source& s) {
    size_t total = 0;
    for (const Workspace* w : s.pool) total += w->endpoints.size();
    if (total == 0) return *s.pool.front();
    const size_t start = s.cursor % total;
    Workspace* best = nullptr;
    size_t best_load = 0;
    // Walk endpoints from the cursor, so ties rotate over the members.
    for (size_t k = 0; k < total; ++k) {
      size_t flat = (start + k) % total;
      for (Workspace* w : s.pool) {
        if (flat >= w->endpoints.size()) {
          flat -= w->endpoints.size();
          continue;
        }
        const size_t load = w->endpoints[flat]->outstanding.size();
        if (!best || load < best_load) {
          best = w;
          best_load = load;
        }
        break;
      }
      if (s.spec->routing == TrafficSpec::Routing::kRoundRobin) break;
    }
    ++s.cursor;
    return *best;
  }

  // A closed-loop client sends its next request after its last one ended (and its think time).
  void client_done(const Req& r, Time at) {
    if (r.source < 0 || stopped) return;
    Source& s = *sources[static_cast<size_t>(r.source)];
    Duration think = s.spec->arrival.think_time ? s.spec->arrival.think_time->sample(s.arrivals) : 0;
    const int si = r.source;
    kernel.post_at(std::max(at, kernel.now()) + think, [this, si] { arrive(si); });
  }

  // A failed closed-loop client retries after a second, so requests that always fail (too long for
  // max-model-len, say) cannot spin at one instant.
  void fail(Workspace& ws, const Req& r) {
    ++ws.failed;
    client_done(r, kernel.now() + kSecond);
  }

  void sample_gauges(Workspace& ws, std::optional<double> kv, int64_t waiting) {
    ws.gauges.add(kv, waiting);
    ws.windows[(kernel.now() - kSimEpoch) / window].gauges.add(kv, waiting);
  }

  void route(Workspace& ws, const Req& r) {
    if (ws.endpoints.empty()) {
      sample_gauges(ws, std::nullopt, static_cast<int64_t>(ws.queue.size()));
      if (static_cast<int64_t>(ws.queue.size()) >= ws.config->queue_limit) return fail(ws, r);
      ws.queue.push_back(r);
      ws.max_queue = std::max<int64_t>(ws.max_queue, static_cast<int64_t>(ws.queue.size()));
      const int64_t id = r.id;
      Workspace* w = &ws;
      kernel.post_at(r.arrival + ws.config->queue_timeout, [this, w, id] {
        auto it = std::find_if(w->queue.begin(), w->queue.end(), [id](const Req& q) { return q.id == id; });
        if (it == w->queue.end()) return;
        const Req gone = *it;
        w->queue.erase(it);
        fail(*w, gone);
      });
      return;
    }
    // Round robin, or least outstanding requests with ties to the first endpoint after the cursor.
    const size_t n = ws.endpoints.size();
    size_t best = ws.rr % n;
    if (ws.config->routing == TrafficSpec::Routing::kLeastOutstanding)
      for (size_t k = 1; k < n; ++k) {
        const size_t i = (ws.rr + k) % n;
        if (ws.endpoints[i]->outstanding.size() < ws.endpoints[best]->outstanding.size()) best = i;
      }
    ws.rr = best + 1;
    submit(ws, *ws.endpoints[best], r);
  }

  void submit(Workspace& ws, Endpoint& ep, const Req& r) {
    std::vector<gpu::Completion> done;
    ep.engine->advance_to(kernel.now(), done);
    complete(ws, ep, done);
    const auto& kv = ep.engine->kv();
    sample_gauges(ws,
                  kv.num_blocks > 0
                      ? 1.0 - static_cast<double>(ep.engine->free_blocks()) / static_cast<double>(kv.num_blocks)
                      : 0.0,
                  static_cast<int64_t>(ws.queue.size() + ep.engine->waiting()));
    const gpu::SubmitResult res = ep.engine->submit(gpu::Request{r.id, kernel.now(), r.prompt, r.output});
    if (res != gpu::SubmitResult::kAccepted) {
      ++ws.rejected;  // vLLM answers 400: prompt + output longer than max-model-len or the KV cache
      fail(ws, r);
    } else {
      ep.outstanding.emplace(r.id, r);
    }
    reschedule(ws, ep);
  }

  void reschedule(Workspace& ws, Endpoint& ep) {
    if (ep.next) kernel.cancel(ep.next);
    ep.next = {};
    const Time t = ep.engine->next_event_time();
    if (t == gpu::kNever) return;
    Workspace* w = &ws;
    Endpoint* e = &ep;
    ep.next = kernel.post_at(std::max(t, kernel.now()), [this, w, e] {
      e->next = {};
      std::vector<gpu::Completion> done;
      e->engine->advance_to(kernel.now(), done);
      complete(*w, *e, done);
      reschedule(*w, *e);
    });
  }

  void complete(Workspace& ws, Endpoint& ep, const std::vector<gpu::Completion>& done) {
    for (const auto& c : done) {
      auto it = ep.outstanding.find(c.id);
      if (it == ep.outstanding.end()) continue;
      const Req r = it->second;
      ep.outstanding.erase(it);
      if (stopped) continue;
      ++ws.completed;
      ws.out_tokens += c.output_tokens;
      ws.in_tokens += c.prompt_tokens;
      // From the client's arrival, so time spent queued for an endpoint counts.
      const double ttft = ms(c.first_token - r.arrival);
      const double tpot = c.output_tokens > 1 ? ms(c.finish - c.first_token) / (c.output_tokens - 1) : -1;
      ws.ttft.add(ttft);
      ws.e2el.add(ms(c.finish - r.arrival));
      if (tpot >= 0) ws.tpot.add(tpot);
      ws.last_finish = std::max(ws.last_finish, c.finish);
      const TrafficSpec& cfg = *ws.config;
      if ((!cfg.slo_ttft || ttft <= ms(*cfg.slo_ttft)) && (!cfg.slo_tpot || tpot <= ms(*cfg.slo_tpot))) ++ws.good;
      ws.samples.offer(RequestSample{ws.ref.namespace_ + "/" + ws.ref.name, to_seconds(r.arrival - kSimEpoch), ttft,
                                     tpot, ms(c.finish - r.arrival), c.prompt_tokens, c.output_tokens});
      {
        const int64_t index = (c.finish - kSimEpoch) / window;
        if (index > ws.windows_sealed_below) {
          for (auto it = ws.windows.lower_bound(ws.windows_sealed_below); it != ws.windows.lower_bound(index); ++it)
            it->second.seal();
          ws.windows_sealed_below = index;
        }
        Workspace::Window& w = ws.windows[index];
        ++w.completed;
        w.out_tokens += c.output_tokens;
        w.ttft.push_back(ttft);
        if (tpot >= 0) w.tpot.push_back(tpot);
      }
      client_done(r, c.finish);
    }
  }

  // The Service's endpoints: Ready pods its selector picks (KAITO's selects the leader pod only).
  void sync_endpoints(Workspace& ws) {
    std::vector<ObjectPtr> ready;
    auto svc = cluster.get("Service", ws.ref.namespace_, ws.ref.name);
    if (svc) {
      const json& sel = (*svc)->at("/spec/selector");
      LabelSelector selector;
      if (sel.is_object())
        for (auto it = sel.begin(); it != sel.end(); ++it)
          if (it.value().is_string()) selector.match_labels[it.key()] = it.value().get<std::string>();
      ListOptions opts;
      opts.namespace_ = ws.ref.namespace_;
      opts.selector = selector;
      if (auto pods = cluster.list("Pod", opts))
        for (const auto& p : pods.value())
          if (!p->meta.deletion_timestamp && condition_is_true(p->at("/status/conditions"), "Ready"))
            ready.push_back(p);
    }
    std::sort(ready.begin(), ready.end(),
              [](const ObjectPtr& a, const ObjectPtr& b) { return a->meta.name < b->meta.name; });
    // Drop endpoints that left; their requests fail (the connection drops).
    for (size_t i = 0; i < ws.endpoints.size();) {
      Endpoint& ep = *ws.endpoints[i];
      const bool still =
          std::any_of(ready.begin(), ready.end(), [&](const ObjectPtr& p) { return p->meta.name == ep.pod; });
      if (still) {
        ++i;
        continue;
      }
      drop(ws, i, "not ready");
    }
    for (const auto& p : ready) {
      const bool known =
          std::any_of(ws.endpoints.begin(), ws.endpoints.end(), [&](const auto& e) { return e->pod == p->meta.name; });
      if (!known && !unservable.count(p->meta.uid)) add_endpoint(ws, *p);
    }
    std::stable_sort(ws.endpoints.begin(), ws.endpoints.end(),
                     [](const auto& a, const auto& b) { return a->pod < b->pod; });
    while (!ws.endpoints.empty() && !ws.queue.empty()) {
      const Req r = ws.queue.front();
      ws.queue.pop_front();
      route(ws, r);
    }
  }

  void retire(Workspace& ws, Endpoint& ep) {
    if (ep.next) kernel.cancel(ep.next);
    ep.next = {};
    ws.itl.merge(ep.engine->itl());
    ws.busy += ep.engine->stats().busy;
    ws.endpoint_time += kernel.now() - ep.since;
  }

  void drop(Workspace& ws, size_t index, const std::string& why) {
    Endpoint& ep = *ws.endpoints[index];
    std::vector<gpu::Completion> done;
    ep.engine->advance_to(kernel.now(), done);
    complete(ws, ep, done);
    retire(ws, ep);
    std::vector<Req> lost;
    for (const auto& [id, r] : ep.outstanding) lost.push_back(r);
    std::sort(lost.begin(), lost.end(), [](const Req& a, const Req& b) { return a.id < b.id; });
    log.record("Serving", ws.ref.namespace_ + "/" + ep.pod,
               "endpoint removed (" + why + "): " + std::to_string(lost.size()) + " request(s) in flight failed");
    ws.endpoints.erase(ws.endpoints.begin() + static_cast<std::ptrdiff_t>(index));
    for (const auto& r : lost) fail(ws, r);
  }

  // One endpoint per engine: a pod started with --data-parallel-size N runs N engines behind one
  // port, each on its own GPU, and takes N endpoints' share of the traffic.
  void add_endpoint(Workspace& ws, const Object& pod) {
    const std::string who = ws.ref.namespace_ + "/" + pod.meta.name;
    auto node = cluster.get("Node", "", pod.str("/spec/nodeName"));
    std::string why;
    std::vector<std::unique_ptr<Endpoint>> added;
    try {
      gpu::Deployment d;
      gpu::EngineConfig cfg;
      int data_parallel = 1;
      if (!deployment_of(pod, node ? node->get() : nullptr, d, cfg, data_parallel, why)) {
        log.record("Serving", who, "endpoint cannot be modelled: " + why);
        unservable.insert(pod.meta.uid);
        return;
      }
      for (int rank = 0; rank < data_parallel; ++rank) {
        auto ep = std::make_unique<Endpoint>();
        ep->pod = pod.meta.name;
        ep->since = kernel.now();
        ep->predictor = gpu::make_predictor("roofline", d, gpu::default_coefficients());
        ep->engine = std::make_unique<gpu::ReplicaEngine>(*ep->predictor, cfg);
        added.push_back(std::move(ep));
      }
      const auto& kv = added.front()->engine->kv();
      log.record("Serving", who,
                 "endpoint ready: " + d.model.hf_id + " on " + std::to_string(d.tp * d.pp) + " x " + d.gpu.id +
                     " (TP " + std::to_string(d.tp) + ", PP " + std::to_string(d.pp) + "), KV cache " +
                     std::to_string(kv.num_blocks * cfg.block_size) + " tokens, max-model-len " +
                     std::to_string(kv.max_model_len) +
                     (data_parallel > 1 ? ", " + std::to_string(data_parallel) + " data-parallel engines" : ""));
    } catch (const InputError& e) {
      log.record("Serving", who, std::string("endpoint cannot serve: ") + e.what());
      unservable.insert(pod.meta.uid);
      return;
    }
    for (auto& ep : added) ws.endpoints.push_back(std::move(ep));
  }

  bool deployment_of(const Object& pod, const Object* node, gpu::Deployment& d, gpu::EngineConfig& cfg,
                     int& data_parallel, std::string& why) {
    if (!node) return why = "its node is gone", false;
    // The pod's command line says what vLLM was told (model, TP, PP, memory utilisation, context).
    const cluster_model::AppProfile app = profile(pod, node);
    if (app.kind != cluster_model::AppProfile::Kind::kVllm &&
        app.kind != cluster_model::AppProfile::Kind::kTransformers)
      return why = "not an inference server KAITO starts (vLLM or transformers)", false;
    const gpu::HardwareCatalog& hw = gpu::default_hardware();
    if (const ModelPreset* preset = cat.presets.find(app.model)) {
      d.model.hf_id = preset->hf_id;
      d.model.arch = preset->arch;
      d.model.max_position_embeddings = preset->model_token_limit;
      d.model.from = "preset " + preset->name;
      if (!gpu::parse_dtype(preset->weight_dtype, d.weight_dtype)) d.weight_dtype = gpu::DType::kBF16;
    } else if (const gpu::ModelArch* arch = hw.find_model(app.model)) {
      d.model = *arch;
    } else {
      return why = "no architecture known for model \"" + app.model + "\"", false;
    }
    std::optional<GpuConfig> gpu;
    if (const std::string* it = node->meta.label("node.kubernetes.io/instance-type"))
      if (const Sku* sku = cat.skus.find(cloud, *it)) gpu = sku->gpu;
    if (!gpu) gpu = gpu_config_from_node_labels(node->meta.labels);
    const gpu::GpuSpec* spec = gpu && !gpu->gpu_id.empty() ? hw.find_gpu(gpu->gpu_id) : nullptr;
    if (!spec) return why = "no GPU spec sheet for node " + node->meta.name + " (presets/gpus.yaml)", false;
    d.gpu = *spec;
    d.kv_dtype = d.weight_dtype == gpu::DType::kFP16 ? gpu::DType::kFP16 : gpu::DType::kBF16;
    d.engine = app.kind == cluster_model::AppProfile::Kind::kVllm ? gpu::EngineKind::kVllm : gpu::EngineKind::kTgi;
    // KAITO's vLLM images run the V1 engine; its scheduler limits follow the GPU's memory.
    if (d.engine == gpu::EngineKind::kVllm) cfg = gpu::vllm_server_defaults(d.gpu);
    d.tp = std::max(1, app.tensor_parallel);
    d.pp = std::max(1, app.pipeline_parallel);
    data_parallel = std::max(1, app.data_parallel);
    cfg.gpu_memory_utilization = app.gpu_memory_utilization;
    cfg.max_model_len = app.max_model_len;
    return true;
  }
};

}  // namespace ktwin::sim

namespace ktwin::sim {

ServingModel::ServingModel(Kernel& kernel, Cluster& cluster, const Scenario& scenario, const catalog::Catalog& catalog,
                           EventLog& log, uint64_t seed, ProfileReader profile)
    : impl_(std::make_unique<Impl>(kernel, cluster, scenario, catalog, log, seed, std::move(profile))),
      scenario_(scenario) {}

ServingModel::~ServingModel() = default;

void ServingModel::start() {
  if (has_traffic()) impl_->start();
}

void ServingModel::finish(Time end) {
  Impl& m = *impl_;
  for (auto& [key, ws] : m.workspaces) {
    for (auto& ep : ws->endpoints) {
      std::vector<gpu::Completion> done;
      ep->engine->advance_to(end, done);
      m.complete(*ws, *ep, done);
    }
  }
  m.stopped = true;
  for (auto& [key, ws] : m.workspaces) {
    int64_t in_flight = static_cast<int64_t>(ws->queue.size());
    for (auto& ep : ws->endpoints) {
      in_flight += static_cast<int64_t>(ep->outstanding.size());
      m.retire(*ws, *ep);
    }
    m.log.record("Serving", key,
                 std::to_string(ws->requests) + " requests: " + std::to_string(ws->completed) + " completed, " +
                     std::to_string(ws->failed) + " failed, " + std::to_string(in_flight) + " in flight at the end");
  }
  m.pod_watch.reset();
}

namespace {

json latency_json(const LatencySummary& s) {
  auto r = [](double v) { return std::round(v * 1000.0) / 1000.0; };  // microsecond resolution keeps JSON stable
  return {{"mean", r(s.mean)}, {"p50", r(s.p50)}, {"p90", r(s.p90)}, {"p95", r(s.p95)}, {"p99", r(s.p99)}};
}

LatencySummary itl_summary(const gpu::ItlHistogram& h) {
  LatencySummary s;
  if (h.count() == 0) return s;
  const double to_ms = 1e-6;
  s.mean = h.mean_ns() * to_ms;
  s.p50 = h.quantile_ns(0.50) * to_ms;
  s.p90 = h.quantile_ns(0.90) * to_ms;
  s.p95 = h.quantile_ns(0.95) * to_ms;
  s.p99 = h.quantile_ns(0.99) * to_ms;
  s.p999 = h.quantile_ns(0.999) * to_ms;
  s.min = h.quantile_ns(0) * to_ms;
  s.max = h.quantile_ns(1) * to_ms;
  return s;
}

// {mean, max} of what arrivals saw; null when nothing was sampled.
json gauge_json(const ArrivalGauges& g, bool kv) {
  auto r4 = [](double v) { return std::round(v * 1e4) / 1e4; };
  if (kv)
    return g.kv_samples == 0 ? json(nullptr)
                             : json{{"mean", r4(g.kv_sum / static_cast<double>(g.kv_samples))}, {"max", r4(g.kv_max)}};
  if (g.waiting_samples == 0) return nullptr;
  return {{"mean", r4(static_cast<double>(g.waiting_sum) / static_cast<double>(g.waiting_samples))},
          {"max", g.waiting_max}};
}

}  // namespace

std::vector<SeriesPoint> ServingModel::series() const {
  std::vector<SeriesPoint> out;
  const double win_s = to_seconds(impl_->window);
  for (const auto& entry : impl_->workspaces) {
    const std::string& key = entry.first;  // not a structured binding: the lambda below captures it
    const auto& ws = entry.second;
    if (ws->windows.empty()) continue;
    const int64_t first = ws->windows.begin()->first, last = ws->windows.rbegin()->first;
    for (int64_t index = first; index <= last; ++index) {
      const double t = static_cast<double>(index) * win_s;
      auto add = [&](const char* name, double v) { out.push_back({t, name, key, v}); };
      auto it = ws->windows.find(index);
      if (it == ws->windows.end()) {
        add("req_s", 0);
        add("out_tok_s", 0);
        continue;
      }
      const auto& w = it->second;
      add("req_s", static_cast<double>(w.completed) / win_s);
      add("out_tok_s", static_cast<double>(w.out_tokens) / win_s);
      if (w.completed > 0) {
        const LatencySummary ttft = w.ttft_summary ? *w.ttft_summary : summarize_latencies(w.ttft);
        add("ttft_p50_ms", ttft.p50);
        add("ttft_p95_ms", ttft.p95);
        add("ttft_p99_ms", ttft.p99);
        const LatencySummary tpot = w.tpot_summary ? *w.tpot_summary : summarize_latencies(w.tpot);
        if (tpot.max > 0) {
          add("tpot_p50_ms", tpot.p50);
          add("tpot_p95_ms", tpot.p95);
        }
      }
      const ArrivalGauges& g = w.gauges;
      if (g.kv_samples > 0) add("kv_cache_usage_mean", g.kv_sum / static_cast<double>(g.kv_samples));
      if (g.waiting_samples > 0) {
        add("num_requests_waiting_mean", static_cast<double>(g.waiting_sum) / static_cast<double>(g.waiting_samples));
        add("num_requests_waiting_max", static_cast<double>(g.waiting_max));
      }
    }
  }
  return out;
}

std::vector<RequestSample> ServingModel::request_samples() const {
  std::vector<RequestSample> out;
  for (const auto& [key, ws] : impl_->workspaces)
    out.insert(out.end(), ws->samples.samples().begin(), ws->samples.samples().end());
  return out;
}

json ServingModel::metrics_json() const {
  json out = json::object();
  for (const auto& [key, ws] : impl_->workspaces) {
    const double secs = ws->first_arrival >= 0 && ws->last_finish > ws->first_arrival
                            ? to_seconds(ws->last_finish - ws->first_arrival)
                            : 0.0;
    auto per_s = [&](double v) { return secs > 0 ? std::round(v / secs * 1000.0) / 1000.0 : 0.0; };
    json m = {
        {"requests", ws->requests},
        {"completed", ws->completed},
        {"failed", ws->failed},
        {"rejected", ws->rejected},
        {"duration_s", std::round(secs * 1000.0) / 1000.0},
        {"out_tok_s", per_s(static_cast<double>(ws->out_tokens))},
        {"total_tok_s", per_s(static_cast<double>(ws->out_tokens + ws->in_tokens))},
        {"req_s", per_s(static_cast<double>(ws->completed))},
        {"ttft_ms", latency_json(ws->ttft.summary())},
        {"tpot_ms", latency_json(ws->tpot.summary())},
        {"itl_ms", latency_json(itl_summary(ws->itl))},
        {"e2el_ms", latency_json(ws->e2el.summary())},
        {"max_queue", ws->max_queue},
        {"kv_cache_usage", gauge_json(ws->gauges, true)},
        {"num_requests_waiting", gauge_json(ws->gauges, false)},
        {"goodput_req_s",
         ws->config->slo_ttft || ws->config->slo_tpot ? json(per_s(static_cast<double>(ws->good))) : json(nullptr)},
        {"gpu_busy_fraction",
         ws->endpoint_time > 0
             ? std::round(static_cast<double>(ws->busy) / static_cast<double>(ws->endpoint_time) * 1e4) / 1e4
             : 0.0}};
    if (scenario_.metrics_window > 0 && !ws->windows.empty()) {
      const double win_s = to_seconds(scenario_.metrics_window);
      json windows = json::array();
      for (const auto& [index, w] : ws->windows) {
        const LatencySummary t = w.ttft_summary ? *w.ttft_summary : summarize_latencies(w.ttft);
        const LatencySummary p = w.tpot_summary ? *w.tpot_summary : summarize_latencies(w.tpot);
        auto r3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
        windows.push_back({{"start_s", r3(static_cast<double>(index) * win_s)},
                           {"completed", w.completed},
                           {"out_tok_s", r3(static_cast<double>(w.out_tokens) / win_s)},
                           {"req_s", r3(static_cast<double>(w.completed) / win_s)},
                           {"ttft_ms", {{"p50", r3(t.p50)}, {"p95", r3(t.p95)}}},
                           {"tpot_ms", {{"p50", r3(p.p50)}, {"p95", r3(p.p95)}}},
                           {"kv_cache_usage", gauge_json(w.gauges, true)},
                           {"num_requests_waiting", gauge_json(w.gauges, false)}});
      }
      m["windows"] = windows;
    }
    out[ws->ref.to_string()] = m;
  }
  return out;
}

std::optional<double> ServingModel::metric(const WorkspaceRef& ref, std::string_view name, std::string& why) const {
  auto it = impl_->workspaces.find(ref.namespace_ + "/" + ref.name);
  if (it == impl_->workspaces.end()) {
    why = "no traffic was sent to " + ref.to_string();
    return std::nullopt;
  }
  const auto& ws = *it->second;
  const double secs =
      ws.first_arrival >= 0 && ws.last_finish > ws.first_arrival ? to_seconds(ws.last_finish - ws.first_arrival) : 0;
  if (name == "completed_requests") return static_cast<double>(ws.completed);
  if (name.starts_with("kv_cache_usage_") || name.starts_with("num_requests_waiting_")) {
    const bool kv = name.starts_with("kv_");
    if ((kv ? ws.gauges.kv_samples : ws.gauges.waiting_samples) == 0) {
      why = "no request arrived";
      return std::nullopt;
    }
    const bool mean = name.ends_with("_mean");
    if (kv) return mean ? ws.gauges.kv_sum / static_cast<double>(ws.gauges.kv_samples) : ws.gauges.kv_max;
    return mean ? static_cast<double>(ws.gauges.waiting_sum) / static_cast<double>(ws.gauges.waiting_samples)
                : static_cast<double>(ws.gauges.waiting_max);
  }
  if (name == "failed_requests") return static_cast<double>(ws.failed);
  if (name == "goodput") {
    if (!ws.config->slo_ttft && !ws.config->slo_tpot) {
      why = "goodput needs an slo: {ttft, tpot} on the workspace's first traffic entry";
      return std::nullopt;
    }
    if (secs <= 0) {
      why = "no request completed";
      return std::nullopt;
    }
    return static_cast<double>(ws.good) / secs;
  }
  if (name == "output_throughput" || name == "total_token_throughput" || name == "request_throughput") {
    if (secs <= 0) {
      why = "no request completed";
      return std::nullopt;
    }
    if (name == "output_throughput") return static_cast<double>(ws.out_tokens) / secs;
    if (name == "total_token_throughput") return static_cast<double>(ws.out_tokens + ws.in_tokens) / secs;
    return static_cast<double>(ws.completed) / secs;
  }
  // Latencies: base_stat, e.g. ttft_p95; a bare base means the mean.
  const std::string n(name);
  const size_t us = n.find('_');
  const std::string base = n.substr(0, us);
  const std::string stat = us == std::string::npos ? "mean" : n.substr(us + 1);
  LatencySummary s;
  if (base == "itl") {
    if (ws.itl.count() == 0) {
      why = "no inter-token latencies recorded";
      return std::nullopt;
    }
    s = itl_summary(ws.itl);
  } else {
    const LatencySamples& values = base == "ttft" ? ws.ttft : base == "tpot" ? ws.tpot : ws.e2el;
    if (values.empty()) {
      why = "no request completed";
      return std::nullopt;
    }
    s = values.summary();
  }
  double v = s.mean;
  if (stat == "median" || stat == "p50")
    v = s.p50;
  else if (stat == "p90")
    v = s.p90;
  else if (stat == "p95")
    v = s.p95;
  else if (stat == "p99")
    v = s.p99;
  else if (stat == "p999")
    v = s.p999;
  else if (stat == "min")
    v = s.min;
  else if (stat == "max")
    v = s.max;
  return v / 1000.0;  // ms -> s
}

}  // namespace ktwin::sim
