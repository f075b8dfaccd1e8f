// Work queue semantics follow client-go: a key is queued at most once; a key being reconciled is not
// handed to a second worker; a key added while in flight is re-queued when the reconcile finishes.
#include "core/runtime/controller.h"

namespace ktwin {

Controller::Controller(ControllerOptions opts, Reconciler& reconciler, Executor& executor, Clock& clock)
    : opts_(std::move(opts)), reconciler_(reconciler), executor_(executor), clock_(clock) {
  if (opts_.max_concurrent_reconciles < 1) opts_.max_concurrent_reconciles = 1;
}

Controller::~Controller() { stop(); }

void Controller::stop() {
  std::vector<std::unique_ptr<WatchSubscription>> watches;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    alive_->store(false);
    queue_.clear();
    dirty_.clear();
    waiting_.clear();
    watches.swap(watches_);
  }
  for (auto& w : watches) w->stop();
}

void Controller::enqueue(const Request& req) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_ || dirty_.count(req)) return;
  dirty_.insert(req);
  if (processing_.count(req)) return;  // re-queued by work() when the reconcile in flight ends
  queue_.push_back(req);
  stats_.queue_depth = queue_.size();
  maybe_dispatch();
}

void Controller::enqueue_after(const Request& req, Duration delay) {
  if (delay <= 0) return enqueue(req);
  std::lock_guard<std::mutex> lock(mu_);
  if (!stopped_) schedule_locked(req, delay);
}

void Controller::schedule_locked(const Request& req, Duration delay) {
  // Like client-go's delaying queue: one waiting entry per key, and the earliest deadline wins, so
  // repeated events during a polling phase do not start parallel polling chains.
  const Time due = clock_.now() + delay;
  auto it = waiting_.find(req);
  if (it != waiting_.end() && it->second <= due) return;
  waiting_[req] = due;
  auto alive = alive_;
  executor_.post_after(delay, [this, alive, req, due] {
    if (!alive->load()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto w = waiting_.find(req);
      if (w == waiting_.end() || w->second != due) return;  // superseded by an earlier deadline
      waiting_.erase(w);
    }
    enqueue(req);
  });
}

void Controller::maybe_dispatch() {
  while (active_workers_ < opts_.max_concurrent_reconciles && static_cast<size_t>(active_workers_) < queue_.size()) {
    ++active_workers_;
    auto alive = alive_;
    executor_.post([this, alive] {
      if (alive->load()) work();
    });
  }
}

Duration Controller::backoff_for(const Request& req) {
  int n = failures_[req]++;
  Duration d = opts_.base_backoff;
  for (int i = 0; i < n && d < opts_.max_backoff; ++i) d *= 2;
  return d < opts_.max_backoff ? d : opts_.max_backoff;
}

void Controller::work() {
  Request req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_ || queue_.empty()) {
      --active_workers_;
      return;
    }
    req = queue_.front();
    queue_.pop_front();
    dirty_.erase(req);
    processing_.insert(req);
    stats_.queue_depth = queue_.size();
  }

  std::optional<ReconcileError> error;
  ReconcileResult result = reconciler_.reconcile(req, error);

  std::lock_guard<std::mutex> lock(mu_);
  processing_.erase(req);
  ++stats_.reconciles;
  Duration retry = 0;
  if (error) {
    ++stats_.errors;
    if (!error->terminal)
      retry = backoff_for(req);
    else
      failures_.erase(req);
  } else if (result.requeue) {
    ++stats_.requeues;
    retry = backoff_for(req);
  } else {
    failures_.erase(req);  // success resets the backoff, like RateLimiter.Forget
    if (result.requeue_after > 0) {
      ++stats_.requeues;
      retry = result.requeue_after;
    }
  }
  if (retry > 0 && !stopped_) schedule_locked(req, retry);
  if (!stopped_ && dirty_.count(req)) queue_.push_back(req);
  stats_.queue_depth = queue_.size();
  --active_workers_;
  if (!stopped_) maybe_dispatch();
}

void Controller::watch(Cluster& cluster, std::string_view kind, std::string_view ns, EventMapper mapper) {
  auto alive = alive_;
  auto sub = cluster.watch(kind, ns, [this, alive, mapper = std::move(mapper)](const WatchEvent& ev) {
    if (!alive->load()) return;
    for (const auto& req : mapper(ev)) enqueue(req);
  });
  std::lock_guard<std::mutex> lock(mu_);
  watches_.push_back(std::move(sub));
}

EventMapper Controller::map_to_self() {
  return [](const WatchEvent& ev) {
    return std::vector<Request>{Request{ev.object->meta.namespace_, ev.object->meta.name}};
  };
}

EventMapper Controller::map_to_owner(std::string owner_kind) {
  return [owner_kind = std::move(owner_kind)](const WatchEvent& ev) {
    std::vector<Request> out;
    for (const auto& ref : ev.object->meta.owner_references)
      if (ref.controller && ref.kind == owner_kind) out.push_back(Request{ev.object->meta.namespace_, ref.name});
    return out;
  };
}

ControllerStats Controller::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace ktwin
