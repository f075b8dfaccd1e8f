// The Cluster port over HTTP against a small fake API server (ConfigMaps in one namespace, with
// resourceVersions, conflicts, merge patch, label selectors and a watch whose history can be
// compacted): error codes map to the core's, a watch that loses its history relists and delivers
// exactly what changed, and the informer cache never keeps a write whose object is gone.
#include "live/live_cluster.h"
#include "live/cached_cluster.h"
#include "tests/support/test_objects.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace ktwin::live {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class FakeApiServer {
 public:
  FakeApiServer() {
    const std::string base = "/api/v1/namespaces/default/configmaps";
    server_.Get(base, [this](const httplib::Request& req, httplib::Response& res) {
      if (req.get_param_value("watch") == "true") return watch(req, res);
      std::lock_guard<std::mutex> lock(mu_);
      json items = json::array();
      const std::string sel = req.get_param_value("labelSelector");
      for (const auto& [name, obj] : objects_) {
        if (!sel.empty()) {
          const auto eq = sel.find('=');
          const json& labels = obj["metadata"].value("labels", json::object());
          if (labels.value(sel.substr(0, eq), "") != sel.substr(eq + 1)) continue;
        }
        json item = obj;
        item.erase("kind");  // as a real list: items carry no kind
        item.erase("apiVersion");
        items.push_back(item);
      }
      reply(res, 200,
            {{"kind", "ConfigMapList"}, {"metadata", {{"resourceVersion", std::to_string(rv_)}}}, {"items", items}});
    });
    server_.Get(base + "/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = objects_.find(req.matches[1]);
      if (it == objects_.end())
        return status(res, 404, "NotFound", "configmaps \"" + std::string(req.matches[1]) + "\" not found");
      reply(res, 200, it->second);
    });
    server_.Post(base, [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      json obj = json::parse(req.body);
      const std::string name = obj["metadata"]["name"];
      if (objects_.contains(name))
        return status(res, 409, "AlreadyExists", "configmaps \"" + name + "\" already exists");
      store("ADDED", std::move(obj));
      reply(res, 201, objects_[name]);
    });
    server_.Put(base + "/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu_);
      json obj = json::parse(req.body);
      auto it = objects_.find(req.matches[1]);
      if (it == objects_.end()) return status(res, 404, "NotFound", "not found");
      if (obj["metadata"].value("resourceVersion", "") != it->second["metadata"]["resourceVersion"])
        return status(res, 409, "Conflict",
                      "the object has been modified; please apply your changes to the latest version");
      store("MODIFIED", std::move(obj));
      reply(res, 200, objects_[req.matches[1]]);
      const auto delay = reply_delay_;
      lock.unlock();
      std::this_thread::sleep_for(delay);  // the write has happened; its answer is slow
    });
    server_.Patch(base + "/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = objects_.find(req.matches[1]);
      if (it == objects_.end()) return status(res, 404, "NotFound", "not found");
      if (req.get_header_value("Content-Type") != "application/merge-patch+json")
        return status(res, 415, "UnsupportedMediaType", "merge patch only");
      json obj = it->second;
      obj.merge_patch(json::parse(req.body));
      store("MODIFIED", std::move(obj));
      reply(res, 200, objects_[req.matches[1]]);
    });
    server_.Delete(base + "/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = objects_.find(req.matches[1]);
      if (it == objects_.end()) return status(res, 404, "NotFound", "not found");
      json last = it->second;
      objects_.erase(it);
      log("DELETED", last);
      reply(res, 200, {{"kind", "Status"}, {"status", "Success"}});
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakeApiServer() {
    drop_watches();
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  //! Forgets the event history (as etcd compaction does) and closes open watches.
  void compact_and_drop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      compacted_ = rv_;
      events_.clear();
    }
    drop_watches();
  }
  void drop_watches() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++drop_generation_;
    }
    cv_.notify_all();
  }
  //! A change made behind the client's back (another writer).
  void write(const std::string& type, json obj) {
    std::lock_guard<std::mutex> lock(mu_);
    if (type == "DELETED") {
      json last = objects_[obj["metadata"]["name"]];
      objects_.erase(obj["metadata"]["name"].get<std::string>());
      log("DELETED", last);
    } else {
      store(type, std::move(obj));
    }
  }
  int watch_requests() const { return watch_requests_; }
  //! While held, open watches send nothing (events queue up, as on a slow stream).
  void hold_watches(bool held) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = held;
    }
    cv_.notify_all();
  }
  //! Updates answer this much later than they happen.
  void delay_update_replies(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    reply_delay_ = d;
  }

 private:
  static void reply(httplib::Response& res, int code, const json& body) {
    res.status = code;
    res.set_content(body.dump(), "application/json");
  }
  static void status(httplib::Response& res, int code, const std::string& reason, const std::string& message) {
    reply(res, code,
          {{"kind", "Status"}, {"status", "Failure"}, {"reason", reason}, {"message", message}, {"code", code}});
  }
  void store(const std::string& type, json obj) {
    obj["kind"] = "ConfigMap";
    obj["apiVersion"] = "v1";
    obj["metadata"]["namespace"] = "default";
    obj["metadata"]["resourceVersion"] = std::to_string(++rv_);
    const std::string name = obj["metadata"]["name"];
    objects_[name] = obj;
    events_.push_back({rv_, {{"type", type}, {"object", obj}}});
    cv_.notify_all();
  }
  void log(const std::string& type, json last) {
    last["metadata"]["resourceVersion"] = std::to_string(++rv_);
    events_.push_back({rv_, {{"type", type}, {"object", last}}});
    cv_.notify_all();
  }

  void watch(const httplib::Request& req, httplib::Response& res) {
    ++watch_requests_;
    const int64_t from = req.has_param("resourceVersion") ? std::stoll(req.get_param_value("resourceVersion")) : 0;
    int generation;
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation = drop_generation_;
    }
    auto sent = std::make_shared<int64_t>(from);
    res.set_chunked_content_provider(
        "application/json", [this, from, generation, sent](size_t, httplib::DataSink& sink) {
          std::unique_lock<std::mutex> lock(mu_);
          if (from < compacted_) {
            const std::string gone =
                json{{"type", "ERROR"}, {"object", {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}}}}.dump() +
                "\n";
            sink.write(gone.data(), gone.size());
            sink.done();
            return true;
          }
          cv_.wait_for(lock, 100ms);
          if (drop_generation_ != generation) {
            sink.done();  // the connection drops
            return true;
          }
          if (held_) return true;
          for (const auto& [rv, ev] : events_) {
            if (rv <= *sent) continue;
            const std::string line = ev.dump() + "\n";
            sink.write(line.data(), line.size());
            *sent = rv;
          }
          return true;
        });
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, json> objects_;
  std::vector<std::pair<int64_t, json>> events_;
  int64_t rv_ = 100;
  int64_t compacted_ = 0;
  int drop_generation_ = 0;
  bool held_ = false;
  std::chrono::milliseconds reply_delay_{0};
  std::atomic<int> watch_requests_{0};
};

std::shared_ptr<HttpClient> client_for(int port) {
  RestConfig c;
  c.server = "http://127.0.0.1:" + std::to_string(port);
  HttpOptions o;
  o.qps = 0;
  o.initial_backoff = 10ms;
  return std::make_shared<HttpClient>(c, o);
}

using ktwin::testing::config_map;

TEST(LiveClusterTest, PathsForCoreAndGroupKinds) {
  EXPECT_EQ(resource_path("Pod", "default", "p"), "/api/v1/namespaces/default/pods/p");
  EXPECT_EQ(resource_path("Pod", ""), "/api/v1/pods");
  EXPECT_EQ(resource_path("Workspace", "team-a", "w"), "/apis/kaito.sh/v1beta1/namespaces/team-a/workspaces/w");
  EXPECT_EQ(resource_path("NodeClaim", "ignored", "n"), "/apis/karpenter.sh/v1/nodeclaims/n");
  EXPECT_EQ(resource_path("Lease", "kube-system", "l"), "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l");
  EXPECT_EQ(resource_path("Gadget", "x"), "");
}

TEST(LiveClusterTest, CrudWithTheCoresErrorCodes) {
  FakeApiServer server;
  LiveCluster cluster(client_for(server.port()));
  auto created = cluster.create(config_map("a", "1", {{"app", "x"}}));
  ASSERT_TRUE(created.ok()) << created.error().to_string();
  EXPECT_EQ((*created)->kind, "ConfigMap");
  EXPECT_FALSE((*created)->meta.resource_version.empty());
  EXPECT_TRUE(cluster.create(config_map("a", "1")).is(ErrorCode::kAlreadyExists));
  ASSERT_TRUE(cluster.create(config_map("b", "2")).ok());

  auto got = cluster.get("ConfigMap", "default", "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->at("/data/v"), "1");
  EXPECT_TRUE(cluster.get("ConfigMap", "default", "zzz").is(ErrorCode::kNotFound));

  // Optimistic concurrency: an update from a stale read is a conflict.
  Object stale = **got;
  Object fresh = **got;
  fresh.body["data"]["v"] = "fresh";
  ASSERT_TRUE(cluster.update(fresh).ok());
  stale.body["data"]["v"] = "stale";
  const auto conflict = cluster.update(stale);
  ASSERT_TRUE(conflict.is(ErrorCode::kConflict));
  EXPECT_NE(conflict.error().message.find("has been modified"), std::string::npos);

  auto patched = cluster.patch("ConfigMap", "default", "a", {{"data", {{"w", "2"}}}});
  ASSERT_TRUE(patched.ok()) << patched.error().to_string();
  EXPECT_EQ((*patched)->at("/data/v"), "fresh");
  EXPECT_EQ((*patched)->at("/data/w"), "2");

  ListOptions by_label;
  by_label.namespace_ = "default";
  by_label.selector = LabelSelector{{{"app", "x"}}, {}};
  auto listed = cluster.list("ConfigMap", by_label);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0]->kind, "ConfigMap");  // filled in for list items
  EXPECT_EQ((*listed)[0]->meta.name, "a");

  EXPECT_TRUE(cluster.remove("ConfigMap", "default", "a").ok());
  EXPECT_TRUE(cluster.remove("ConfigMap", "default", "a").is(ErrorCode::kNotFound));
  EXPECT_TRUE(cluster.get("Gadget", "default", "a").is(ErrorCode::kInvalid));
}

struct Recorder {
  std::mutex mu;
  std::vector<std::string> events;
  void operator()(const WatchEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(std::string(watch_event_type_name(e.type)) + " " + e.object->meta.name + " " +
                     e.object->at("/data/v").get<std::string>());
  }
  std::vector<std::string> wait_for(size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (events.size() >= n) return events;
      }
      std::this_thread::sleep_for(10ms);
    }
    std::lock_guard<std::mutex> lock(mu);
    return events;
  }
};

TEST(LiveClusterTest, WatchRelistsAfterGoneAndDeliversOnlyTheChanges) {
  FakeApiServer server;
  LiveClusterOptions options;
  options.relist_backoff = 20ms;
  options.watch_timeout = 5s;
  LiveCluster cluster(client_for(server.port()), options);
  ASSERT_TRUE(cluster.create(config_map("keep", "1")).ok());
  ASSERT_TRUE(cluster.create(config_map("change", "1")).ok());
  ASSERT_TRUE(cluster.create(config_map("gone", "1")).ok());

  Recorder rec;
  auto sub = cluster.watch("ConfigMap", "default", [&](const WatchEvent& e) { rec(e); });
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(rec.wait_for(3).size(), 3u);  // the initial list: ADDED for each
  server.write("ADDED", json{{"metadata", {{"name", "live"}}}, {"data", {{"v", "1"}}}});
  EXPECT_EQ(rec.wait_for(4).back(), "ADDED live 1");

  // History compacted and the stream cut; meanwhile another writer changes things. The informer gets
  // 410 on its re-watch, relists and reports exactly the differences.
  server.compact_and_drop();
  server.write("MODIFIED", json{{"metadata", {{"name", "change"}}}, {"data", {{"v", "2"}}}});
  server.write("DELETED", json{{"metadata", {{"name", "gone"}}}});
  server.write("ADDED", json{{"metadata", {{"name", "new"}}}, {"data", {{"v", "1"}}}});
  server.compact_and_drop();
  const auto events = rec.wait_for(7);
  ASSERT_EQ(events.size(), 7u);
  // Whether the relist or the resumed stream saw them first, each change arrives exactly once.
  std::vector<std::string> delta(events.begin() + 4, events.end());
  std::sort(delta.begin(), delta.end());
  EXPECT_EQ(delta, (std::vector<std::string>{"ADDED new 1", "DELETED gone 1", "MODIFIED change 2"}));

  // Back on a live stream: later changes arrive once.
  server.write("MODIFIED", json{{"metadata", {{"name", "keep"}}}, {"data", {{"v", "3"}}}});
  EXPECT_EQ(rec.wait_for(8).back(), "MODIFIED keep 3");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rec.wait_for(8).size(), 8u);  // nothing delivered twice
  sub->stop();
  EXPECT_GE(server.watch_requests(), 2);
}

ListOptions in_default() {
  ListOptions o;
  o.namespace_ = "default";
  return o;
}

// Waits until the cache answers reads of ConfigMaps in "default" itself (its informer has listed).
void wait_until_cached(CachedCluster& cache) {
  for (int i = 0; i < 500; ++i) {
    const uint64_t before = cache.stats().cache_reads;
    (void)cache.list("ConfigMap", in_default());
    if (cache.stats().cache_reads > before) return;
    std::this_thread::sleep_for(10ms);
  }
  FAIL() << "the informer never synced";
}

// Polls get() until `done` holds for its answer or 5 s pass; returns the last answer.
template <typename Done>
Result<ObjectPtr> get_until(CachedCluster& cache, const std::string& name, Done done) {
  Result<ObjectPtr> r = cache.get("ConfigMap", "default", name);
  for (int i = 0; i < 500 && !done(r); ++i) {
    std::this_thread::sleep_for(10ms);
    r = cache.get("ConfigMap", "default", name);
  }
  return r;
}

// A cache over the fake server with one synced ConfigMap informer whose events `rec` records.
class CachedClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sub = cache.watch("ConfigMap", "default", [this](const WatchEvent& e) { rec(e); });
    ASSERT_NE(sub, nullptr);
    wait_until_cached(cache);
  }
  static LiveClusterOptions quick_relists() {
    LiveClusterOptions o;
    o.relist_backoff = 20ms;
    o.watch_timeout = 5s;
    return o;
  }

  FakeApiServer server;
  LiveCluster cluster{client_for(server.port()), quick_relists()};
  CachedCluster cache{cluster};
  Recorder rec;
  std::unique_ptr<WatchSubscription> sub;
};

TEST_F(CachedClusterTest, ARelistDropsOwnWritesWhoseObjectWasDeletedWhileTheWatchWasBroken) {
  // Our create is answered (and cached at once), but the watch shows nothing before the object is
  // deleted by someone else and the history is compacted: its ADDED and DELETED are never streamed.
  server.hold_watches(true);
  ASSERT_TRUE(cache.create(config_map("mine", "1")).ok());
  EXPECT_TRUE(cache.get("ConfigMap", "default", "mine").ok()) << "own write visible before its watch event";
  server.write("DELETED", json{{"metadata", {{"name", "mine"}}}});
  server.compact_and_drop();
  server.hold_watches(false);

  // The informer gets 410, relists, and the list (newer than our write) does not have it.
  const auto r = get_until(cache, "mine", [](const Result<ObjectPtr>& a) { return !a.ok(); });
  ASSERT_FALSE(r.ok()) << "a deleted object stays cached";
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(cache.list("ConfigMap", in_default()).value().empty());

  // A write newer than the list stays: the relist only drops what it has seen gone.
  ASSERT_TRUE(cache.create(config_map("later", "1")).ok());
  EXPECT_TRUE(get_until(cache, "later", [](const Result<ObjectPtr>& a) { return a.ok(); }).ok());
  EXPECT_EQ(rec.wait_for(1).front(), "ADDED later 1");  // handlers never heard of "mine"
}

TEST_F(CachedClusterTest, AnAnswerOvertakenByItsObjectsDeleteIsNotCached) {
  server.write("ADDED", json{{"metadata", {{"name", "x"}}}, {"data", {{"v", "1"}}}});
  ASSERT_EQ(rec.wait_for(1).back(), "ADDED x 1");
  auto x = cache.get("ConfigMap", "default", "x");
  ASSERT_TRUE(x.ok());

  // The update lands, another writer deletes the object, and the watch streams both before the update's
  // slow answer arrives.
  server.delay_update_replies(400ms);
  std::thread other([&] {
    std::this_thread::sleep_for(100ms);
    server.write("DELETED", json{{"metadata", {{"name", "x"}}}});
  });
  Object changed = *x.value();
  changed.body["data"]["v"] = "2";
  const auto updated = cache.update(changed);
  other.join();
  ASSERT_TRUE(updated.ok());
  const auto events = rec.wait_for(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2], "DELETED x 2");

  const auto r = cache.get("ConfigMap", "default", "x");
  ASSERT_FALSE(r.ok()) << "the update's answer brought a deleted object back";
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ktwin::live
