#include "live/cached_cluster.h"

#include <algorithm>
#include <optional>

namespace ktwin::live {

struct CachedCluster::Informer {
  std::string kind;
  std::string ns;
  bool synced = false;
  std::map<std::string, ObjectPtr> objects;  // "namespace/name"
  uint64_t seen_up_to = 0;  // highest resourceVersion the watch or a list has shown (0: none or not numeric)
  std::map<uint64_t, WatchHandler> handlers;
  std::unique_ptr<WatchSubscription> source;  // the API server watch feeding this informer
};

struct CachedCluster::Subscription : WatchSubscription {
  Subscription(CachedCluster* owner, std::shared_ptr<Informer> informer, uint64_t id)
      : owner_(owner), informer_(std::move(informer)), id_(id) {}
  ~Subscription() override { stop(); }
  void stop() override {
    if (id_ == 0) return;
    owner_->unsubscribe(informer_, id_);
    id_ = 0;
  }

 private:
  CachedCluster* owner_;
  std::shared_ptr<Informer> informer_;
  uint64_t id_;
};

namespace {
std::string object_key(const Object& o) { return o.meta.namespace_ + "/" + o.meta.name; }

// resourceVersions are opaque, but etcd's are increasing integers (one counter for all kinds); nullopt when
// this one is not, and then no ordering is assumed.
std::optional<uint64_t> revision(const std::string& rv) {
  if (rv.empty() || rv.size() > 19 || rv.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(rv);
}

// When both parse, older ones lose.
bool older(const ObjectPtr& candidate, const ObjectPtr& cached) {
  if (!cached) return false;
  const auto a = revision(candidate->meta.resource_version);
  const auto b = revision(cached->meta.resource_version);
  return a && b && *a < *b;
}
}  // namespace

CachedCluster::CachedCluster(LiveCluster& live) : live_(live) {
  dispatcher_ = std::thread([this] { dispatch(); });
}

CachedCluster::~CachedCluster() {
  // Stop the API watches first (their threads call back into us), then the dispatcher.
  std::vector<std::unique_ptr<WatchSubscription>> sources;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, inf] : informers_) sources.push_back(std::move(inf->source));
  }
  sources.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  dispatcher_.join();
}

std::unique_ptr<WatchSubscription> CachedCluster::watch(std::string_view kind, std::string_view ns,
                                                        WatchHandler handler) {
  const ResourceInfo* info = resource_info(kind);
  if (!info) return nullptr;
  const std::string scope = info->namespaced ? std::string(ns) : "";
  std::shared_ptr<Informer> inf;
  uint64_t id = 0;
  bool fresh = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = informers_[std::string(kind) + "/" + scope];
    fresh = !slot;
    if (fresh) {
      slot = std::make_shared<Informer>();
      slot->kind = std::string(kind);
      slot->ns = scope;
    }
    inf = slot;
    id = next_id_++;
    inf->handlers[id] = std::move(handler);
    // A late joiner hears of what is cached first, as a fresh watch would.
    for (const auto& [key, obj] : inf->objects)
      queue_.push_back({inf, id, {}, WatchEvent{WatchEventType::kAdded, obj}});
    if (!inf->objects.empty()) cv_.notify_all();
  }
  if (fresh) {
    std::weak_ptr<Informer> weak = inf;
    auto source = live_.informer(
        kind, scope,
        [this, weak](const WatchEvent& ev) {
          auto self = weak.lock();
          if (!self) return;
          std::lock_guard<std::mutex> lock(mu_);
          const std::string key = object_key(*ev.object);
          if (auto rv = revision(ev.object->meta.resource_version)) self->seen_up_to = std::max(self->seen_up_to, *rv);
          if (ev.type == WatchEventType::kDeleted) {
            self->objects.erase(key);
          } else {
            auto& slot = self->objects[key];
            if (!older(ev.object, slot)) slot = ev.object;  // our own newer write may be there already
          }
          Pending p{self, 0, {}, ev};
          for (const auto& [hid, h] : self->handlers) p.handlers.push_back(hid);
          queue_.push_back(std::move(p));
          cv_.notify_all();
        },
        [this, weak](const InformerListing& listing) {
          auto self = weak.lock();
          if (!self) return;
          std::lock_guard<std::mutex> lock(mu_);
          self->synced = true;
          const auto listed_at = revision(listing.resource_version);
          if (!listed_at) return;
          self->seen_up_to = std::max(self->seen_up_to, *listed_at);
          // The list's differences have been delivered, so what is cached but not listed came from our own
          // writes only. If such a write is not newer than the list, the object went away while the watch
          // was broken (its DELETED never reached us): drop it, or it would stay cached until restart.
          for (auto it = self->objects.begin(); it != self->objects.end();) {
            const auto rv = revision(it->second->meta.resource_version);
            if (!listing.keys.contains(it->first) && rv && *rv <= *listed_at)
              it = self->objects.erase(it);
            else
              ++it;
          }
        });
    std::lock_guard<std::mutex> lock(mu_);
    inf->source = std::move(source);
  }
  return std::make_unique<Subscription>(this, inf, id);
}

void CachedCluster::unsubscribe(const std::shared_ptr<Informer>& inf, uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  inf->handlers.erase(id);
  // After stop() returns the handler is not running, unless stop() comes from inside it.
  if (std::this_thread::get_id() != dispatcher_.get_id()) cv_.wait(lock, [&] { return delivering_ != id; });
}

void CachedCluster::dispatch() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    const std::vector<uint64_t> targets = p.handler_id ? std::vector<uint64_t>{p.handler_id} : p.handlers;
    for (uint64_t id : targets) {
      auto it = p.informer->handlers.find(id);
      if (it == p.informer->handlers.end()) continue;
      WatchHandler h = it->second;
      delivering_ = id;
      lock.unlock();
      h(p.event);
      lock.lock();
      delivering_ = 0;
      cv_.notify_all();
    }
  }
}

std::shared_ptr<CachedCluster::Informer> CachedCluster::synced_informer(std::string_view kind, std::string_view ns) {
  // Called with mu_ held. A cluster-wide informer answers for every namespace; a namespaced one for its own.
  for (const std::string& scope : {std::string(), std::string(ns)}) {
    auto it = informers_.find(std::string(kind) + "/" + scope);
    if (it != informers_.end() && it->second->synced) return it->second;
    if (ns.empty()) break;
  }
  return nullptr;
}

Result<ObjectPtr> CachedCluster::get(std::string_view kind, std::string_view ns, std::string_view name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const ResourceInfo* info = resource_info(kind);
    const std::string scope = info && info->namespaced ? std::string(ns) : "";
    if (auto inf = synced_informer(kind, scope)) {
      ++stats_.cache_reads;
      auto it = inf->objects.find(scope + "/" + std::string(name));
      if (it != inf->objects.end()) return it->second;
      return make_error(ErrorCode::kNotFound, std::string(kind) + " \"" + std::string(name) + "\" not found",
                        "NotFound");
    }
    ++stats_.api_reads;
  }
  return live_.get(kind, ns, name);
}

Result<std::vector<ObjectPtr>> CachedCluster::list(std::string_view kind, const ListOptions& opts) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const ResourceInfo* info = resource_info(kind);
    const std::string scope = info && info->namespaced ? opts.namespace_ : "";
    if (auto inf = synced_informer(kind, scope)) {
      ++stats_.cache_reads;
      std::vector<ObjectPtr> out;
      for (const auto& [key, obj] : inf->objects) {
        if (!scope.empty() && obj->meta.namespace_ != scope) continue;
        if (opts.selector && !opts.selector->matches(obj->meta.labels)) continue;
        out.push_back(obj);
      }
      return out;
    }
    ++stats_.api_reads;
  }
  return live_.list(kind, opts);
}

Result<ObjectPtr> CachedCluster::remember(Result<ObjectPtr> written) {
  if (!written) return written;
  const ObjectPtr& obj = written.value();
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& scope : {std::string(), obj->meta.namespace_}) {
    auto it = informers_.find(obj->kind + "/" + scope);
    if (it != informers_.end() && it->second->synced) {
      Informer& inf = *it->second;
      const std::string key = object_key(*obj);
      auto cached = inf.objects.find(key);
      if (cached != inf.objects.end()) {
        if (!older(obj, cached->second)) cached->second = obj;
      } else {
        // Not cached although the watch has shown this version or later: it was deleted since.
        const auto rv = revision(obj->meta.resource_version);
        if (!rv || *rv > inf.seen_up_to) inf.objects.emplace(key, obj);
      }
    }
    if (obj->meta.namespace_.empty()) break;
  }
  return written;
}

CachedCluster::Stats CachedCluster::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace ktwin::live
