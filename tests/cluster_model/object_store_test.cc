// Contract tests of the simulated API server: every rule the Cluster port promises, plus the API
// server behaviour the store models on top (graceful pod deletion, binding, admission, no-op writes).
#include "cluster_model/object_store.h"

#include <gtest/gtest.h>

#include <deque>
#include <mutex>
#include <thread>

#include "core/k8s/conditions.h"
#include "tests/cluster_model/test_support.h"

namespace ktwin::cluster_model {
namespace {

using testing::make_object;
using testing::make_pod;
using testing::ManualLoop;

struct Recorded {
  WatchEventType type;
  std::string name;
  std::string rv;
};

class ObjectStoreTest : public ::testing::Test {
 protected:
  ManualLoop loop_;
  ObjectStore store_{loop_, loop_};

  Object workspace(const std::string& name) {
    Object ws = make_object("Workspace", "default", name);
    ws.api_version = "kaito.sh/v1beta1";
    ws.body["resource"] = {{"instanceType", "Standard_NC24ads_A100_v4"}, {"count", 1}};
    ws.body["inference"] = {{"preset", {{"name", "phi-3-mini-4k-instruct"}}}};
    return ws;
  }

  std::unique_ptr<WatchSubscription> record(std::string_view kind, std::string_view ns, std::vector<Recorded>& out) {
    return store_.watch(kind, ns, [&out](const WatchEvent& ev) {
      out.push_back({ev.type, ev.object->meta.name, ev.object->meta.resource_version});
    });
  }
};

TEST_F(ObjectStoreTest, CreateAssignsSystemFields) {
  loop_.advance(1500 * kMillisecond);
  auto a = store_.create(workspace("a"));
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  EXPECT_EQ((*a)->meta.resource_version, "1");
  EXPECT_EQ((*a)->meta.generation, 1);
  EXPECT_EQ((*a)->meta.uid, "00000000-0000-4000-8000-000000000001");
  EXPECT_EQ((*a)->meta.creation_timestamp, kSimEpoch + kSecond);  // truncated to wire precision
  EXPECT_EQ((*a)->api_version, "kaito.sh/v1beta1");
  auto b = store_.create(workspace("b"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->meta.resource_version, "2");
  EXPECT_EQ((*b)->meta.uid, "00000000-0000-4000-8000-000000000002");
  EXPECT_EQ(store_.object_count(), 2u);
  EXPECT_EQ(store_.writes(), 2u);

  auto dup = store_.create(workspace("a"));
  ASSERT_TRUE(dup.is(ErrorCode::kAlreadyExists));
  EXPECT_EQ(dup.error().message, "workspaces.kaito.sh \"a\" already exists");

  Object with_rv = workspace("c");
  with_rv.meta.resource_version = "7";
  EXPECT_TRUE(store_.create(with_rv).is(ErrorCode::kInvalid));
}

TEST_F(ObjectStoreTest, NamespaceRules) {
  EXPECT_TRUE(store_.create(make_object("ConfigMap", "", "cm")).is(ErrorCode::kInvalid));
  auto node = store_.create(make_object("Node", "ignored", "n1"));
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*node)->meta.namespace_, "");
  EXPECT_TRUE(store_.get("Node", "", "n1").ok());
  EXPECT_TRUE(store_.get("Node", "whatever", "n1").ok());
  EXPECT_TRUE(store_.get("ConfigMap", "", "cm").is(ErrorCode::kInvalid));
  EXPECT_TRUE(store_.get("NoSuchKind", "default", "x").is(ErrorCode::kNotFound));
}

TEST_F(ObjectStoreTest, GenerateNameIsDeterministic) {
  Object p = make_pod("default", "");
  p.meta.generate_name = "job-";
  auto a = store_.create(p);
  auto b = store_.create(p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->meta.name.size(), 9u);
  EXPECT_EQ((*a)->meta.name.rfind("job-", 0), 0u);
  EXPECT_NE((*a)->meta.name, (*b)->meta.name);
  for (char c : (*a)->meta.name.substr(4)) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));

  ManualLoop loop2;
  ObjectStore other(loop2, loop2);
  EXPECT_EQ((*other.create(p))->meta.name, (*a)->meta.name);  // same sequence in a fresh store

  Object nameless = make_pod("default", "");
  EXPECT_TRUE(store_.create(nameless).is(ErrorCode::kInvalid));
}

TEST_F(ObjectStoreTest, GetAndUpdateOfMissingObjectAreNotFound) {
  auto g = store_.get("Workspace", "default", "nope");
  ASSERT_TRUE(g.is(ErrorCode::kNotFound));
  EXPECT_EQ(g.error().message, "workspaces.kaito.sh \"nope\" not found");
  EXPECT_TRUE(store_.update(workspace("nope")).is(ErrorCode::kNotFound));
  EXPECT_TRUE(store_.remove("Workspace", "default", "nope").is(ErrorCode::kNotFound));
  EXPECT_TRUE(store_.get("Pod", "default", "p").error().message == "pods \"p\" not found");
}

TEST_F(ObjectStoreTest, StaleUpdateConflicts) {
  auto created = store_.create(workspace("x"));
  ASSERT_TRUE(created.ok());
  Object first = **created;
  Object second = **created;
  first.meta.labels["a"] = "1";
  auto u1 = store_.update(first);
  ASSERT_TRUE(u1.ok());
  EXPECT_EQ((*u1)->meta.resource_version, "2");
  second.meta.labels["b"] = "2";
  auto u2 = store_.update(second);
  ASSERT_TRUE(u2.is(ErrorCode::kConflict));
  EXPECT_EQ(u2.error().message,
            "Operation cannot be fulfilled on workspaces.kaito.sh \"x\": the object has been modified; please apply "
            "your changes to the latest version and try again");
  // Empty resourceVersion: unconditional.
  second.meta.resource_version.clear();
  auto u3 = store_.update(second);
  ASSERT_TRUE(u3.ok());
  EXPECT_EQ((*u3)->meta.resource_version, "3");
  EXPECT_EQ((*u3)->meta.labels.count("a"), 0u);
  // A different uid is a failed precondition.
  Object wrong_uid = **u3;
  wrong_uid.meta.uid = "someone-else";
  EXPECT_TRUE(store_.update(wrong_uid).is(ErrorCode::kConflict));
}

TEST_F(ObjectStoreTest, GenerationBumpsOnlyWhenNonStatusBodyChanges) {
  Object ws = **store_.create(workspace("w"));  // Workspace has no spec: everything but status counts
  ws.meta.labels["l"] = "v";
  ws = **store_.update(ws);
  EXPECT_EQ(ws.meta.generation, 1);  // metadata only
  ws.body["resource"]["count"] = 2;
  ws = **store_.update(ws);
  EXPECT_EQ(ws.meta.generation, 2);
  ws.body["status"] = {{"conditions", json::array()}};
  ws = **store_.update_status(ws);
  EXPECT_EQ(ws.meta.generation, 2);
  EXPECT_EQ(ws.meta.resource_version, "4");

  Object cm = make_object("ConfigMap", "default", "cm", {{"data", {{"k", "v"}}}});
  cm = **store_.create(cm);
  cm.body["data"]["k"] = "w";
  cm = **store_.update(cm);
  EXPECT_EQ(cm.meta.generation, 2);
}

TEST_F(ObjectStoreTest, NoOpWriteKeepsResourceVersionAndSendsNoEvent) {
  Object ws = **store_.create(workspace("w"));
  std::vector<Recorded> events;
  auto sub = record("Workspace", "", events);
  loop_.drain();
  auto same = store_.update(ws);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ((*same)->meta.resource_version, ws.meta.resource_version);
  loop_.drain();
  EXPECT_EQ(events.size(), 1u);  // only the initial ADDED
}

TEST_F(ObjectStoreTest, StatusSubresourceSeparation) {
  Object ws = workspace("w");
  ws.body["status"] = {{"workerNodes", {"ignored"}}};
  ws = **store_.create(ws);
  EXPECT_FALSE(ws.body.contains("status"));  // status is dropped on create

  ws.body["status"] = {{"workerNodes", {"n1"}}};
  ws = **store_.update_status(ws);
  EXPECT_EQ(ws.at("/status/workerNodes/0"), "n1");

  // update() keeps the stored status...
  Object changed = ws;
  changed.body["status"] = {{"workerNodes", {"n2"}}};
  changed.meta.labels["x"] = "y";
  changed = **store_.update(changed);
  EXPECT_EQ(changed.at("/status/workerNodes/0"), "n1");
  EXPECT_EQ(*changed.meta.label("x"), "y");

  // ...and update_status() changes only status.
  Object status_write = changed;
  status_write.meta.labels["x"] = "z";
  status_write.body["resource"]["count"] = 5;
  status_write.body["status"]["workerNodes"] = {"n3"};
  status_write = **store_.update_status(status_write);
  EXPECT_EQ(*status_write.meta.label("x"), "y");
  EXPECT_EQ(status_write.at("/resource/count"), 1);
  EXPECT_EQ(status_write.at("/status/workerNodes/0"), "n3");

  // Kinds without the subresource: update() writes everything, update_status() does not exist.
  Object cm = **store_.create(make_object("ConfigMap", "default", "cm", {{"status", "kept"}}));
  EXPECT_EQ(cm.at("/status"), "kept");
  EXPECT_TRUE(store_.update_status(cm).is(ErrorCode::kNotFound));

  // Pods start Pending; nodes keep the status they register with.
  auto pod = store_.create(make_pod("default", "p"));
  EXPECT_EQ((*pod)->str("/status/phase"), "Pending");
  auto node = store_.create(testing::make_node("n", {{"cpu", "4"}}));
  EXPECT_EQ((*node)->str("/status/allocatable/cpu"), "4");
}

TEST_F(ObjectStoreTest, ImmutableFieldsAreKept) {
  Object ws = **store_.create(workspace("w"));
  Object edit = ws;
  edit.meta.creation_timestamp = 42;
  edit.meta.deletion_timestamp = 43;
  edit.meta.labels["t"] = "1";
  auto out = store_.update(edit);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)->meta.creation_timestamp, ws.meta.creation_timestamp);
  EXPECT_FALSE((*out)->meta.deletion_timestamp.has_value());
  EXPECT_EQ((*out)->meta.uid, ws.meta.uid);
}

TEST_F(ObjectStoreTest, FinalizersDelayDeletion) {
  Object ws = workspace("w");
  ws.meta.finalizers = {"workspace.finalizer.kaito.sh"};
  ws = **store_.create(ws);
  std::vector<Recorded> events;
  auto sub = record("Workspace", "default", events);

  loop_.advance(5 * kSecond);
  ASSERT_TRUE(store_.remove("Workspace", "default", "w").ok());
  Object deleting = **store_.get("Workspace", "default", "w");
  ASSERT_TRUE(deleting.meta.deletion_timestamp.has_value());
  EXPECT_EQ(*deleting.meta.deletion_timestamp, kSimEpoch + 5 * kSecond);
  EXPECT_EQ(deleting.meta.generation, 2);  // the API server bumps generation when deletion starts
  const std::string rv = deleting.meta.resource_version;

  // Further deletes are no-ops; deletionTimestamp cannot be cleared or moved.
  loop_.advance(5 * kSecond);
  ASSERT_TRUE(store_.remove("Workspace", "default", "w").ok());
  EXPECT_EQ((*store_.get("Workspace", "default", "w"))->meta.resource_version, rv);
  Object clear = deleting;
  clear.meta.deletion_timestamp.reset();
  clear.meta.labels["still"] = "here";
  clear = **store_.update(clear);
  EXPECT_EQ(*clear.meta.deletion_timestamp, kSimEpoch + 5 * kSecond);

  // No new finalizers on a deleting object.
  Object more = clear;
  more.meta.finalizers.push_back("another");
  EXPECT_TRUE(store_.update(more).is(ErrorCode::kInvalid));

  // Removing the last finalizer deletes it.
  clear.meta.finalizers.clear();
  auto last = store_.update(clear);
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(store_.get("Workspace", "default", "w").is(ErrorCode::kNotFound));
  loop_.drain();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[1].type, WatchEventType::kModified);  // deletionTimestamp set
  EXPECT_EQ(events[2].type, WatchEventType::kModified);  // label
  EXPECT_EQ(events[3].type, WatchEventType::kDeleted);   // last finalizer removed
  EXPECT_EQ(store_.object_count(), 0u);
}

TEST_F(ObjectStoreTest, DeleteWithoutFinalizersIsImmediate) {
  store_.create(workspace("w")).value();
  std::vector<Recorded> events;
  auto sub = record("Workspace", "default", events);
  ASSERT_TRUE(store_.remove("Workspace", "default", "w").ok());
  EXPECT_TRUE(store_.get("Workspace", "default", "w").is(ErrorCode::kNotFound));
  loop_.drain();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, WatchEventType::kDeleted);
  EXPECT_EQ(events[1].rv, "2");  // the deletion has its own resourceVersion
}

TEST_F(ObjectStoreTest, DeletePreconditionUid) {
  auto ws = store_.create(workspace("w"));
  DeleteOptions opts;
  opts.precondition_uid = "other";
  EXPECT_TRUE(store_.remove("Workspace", "default", "w", opts).is(ErrorCode::kConflict));
  opts.precondition_uid = (*ws)->meta.uid;
  EXPECT_TRUE(store_.remove("Workspace", "default", "w", opts).ok());
}

TEST_F(ObjectStoreTest, PodGracefulDeletion) {
  Object pod = make_pod("default", "p");
  pod.body["spec"]["terminationGracePeriodSeconds"] = 10;
  store_.create(pod).value();
  // Unbound pods go at once.
  store_.create(make_pod("default", "unbound")).value();
  ASSERT_TRUE(store_.remove("Pod", "default", "unbound").ok());
  EXPECT_TRUE(store_.get("Pod", "default", "unbound").is(ErrorCode::kNotFound));

  ASSERT_TRUE(store_.bind_pod("default", "p", "node-1").ok());
  ASSERT_TRUE(store_.remove("Pod", "default", "p").ok());
  Object deleting = **store_.get("Pod", "default", "p");
  ASSERT_TRUE(deleting.meta.deletion_timestamp.has_value());
  EXPECT_EQ(*deleting.meta.deletion_grace_period_seconds, 10);
  EXPECT_EQ(*deleting.meta.deletion_timestamp, kSimEpoch + 10 * kSecond);
  // A second delete with the same grace is a no-op; the kubelet's grace-0 delete removes it.
  ASSERT_TRUE(store_.remove("Pod", "default", "p").ok());
  EXPECT_TRUE(store_.get("Pod", "default", "p").ok());
  DeleteOptions force;
  force.grace_period_seconds = 0;
  ASSERT_TRUE(store_.remove("Pod", "default", "p", force).ok());
  EXPECT_TRUE(store_.get("Pod", "default", "p").is(ErrorCode::kNotFound));

  // Default grace is 30 s; a terminated pod goes at once.
  store_.create(make_pod("default", "q")).value();
  ASSERT_TRUE(store_.bind_pod("default", "q", "node-1").ok());
  ASSERT_TRUE(store_.remove("Pod", "default", "q").ok());
  EXPECT_EQ(*(*store_.get("Pod", "default", "q"))->meta.deletion_grace_period_seconds, 30);
  store_.create(make_pod("default", "done")).value();
  ASSERT_TRUE(store_.bind_pod("default", "done", "node-1").ok());
  ASSERT_TRUE(store_.patch("Pod", "default", "done", {{"status", {{"phase", "Succeeded"}}}}, true).ok());
  ASSERT_TRUE(store_.remove("Pod", "default", "done").ok());
  EXPECT_TRUE(store_.get("Pod", "default", "done").is(ErrorCode::kNotFound));
}

TEST_F(ObjectStoreTest, PodWithFinalizerForceDeletedWaitsForFinalizer) {
  Object pod = make_pod("default", "p");
  pod.meta.finalizers = {"x/hold"};
  store_.create(pod).value();
  ASSERT_TRUE(store_.bind_pod("default", "p", "n").ok());
  ASSERT_TRUE(store_.remove("Pod", "default", "p").ok());
  // Removing the finalizer during the grace period does not delete: the kubelet has not finished.
  Object p = **store_.get("Pod", "default", "p");
  p.meta.finalizers.clear();
  p = **store_.update(p);
  EXPECT_TRUE(store_.get("Pod", "default", "p").ok());
  DeleteOptions force;
  force.grace_period_seconds = 0;
  ASSERT_TRUE(store_.remove("Pod", "default", "p", force).ok());
  EXPECT_TRUE(store_.get("Pod", "default", "p").is(ErrorCode::kNotFound));
}

TEST_F(ObjectStoreTest, BindPod) {
  store_.create(make_pod("default", "p")).value();
  ASSERT_TRUE(store_.bind_pod("default", "p", "node-1").ok());
  Object p = **store_.get("Pod", "default", "p");
  EXPECT_EQ(p.str("/spec/nodeName"), "node-1");
  EXPECT_TRUE(condition_is_true(p.at("/status/conditions"), "PodScheduled"));
  EXPECT_TRUE(store_.bind_pod("default", "p", "node-1").ok());  // idempotent
  EXPECT_TRUE(store_.bind_pod("default", "p", "node-2").is(ErrorCode::kConflict));
  EXPECT_TRUE(store_.bind_pod("default", "missing", "node-1").is(ErrorCode::kNotFound));
}

TEST_F(ObjectStoreTest, MergePatch) {
  Object ws = **store_.create(workspace("w"));
  auto p = store_.patch(
      "Workspace", "default", "w",
      {{"metadata", {{"labels", {{"a", "b"}}}}}, {"resource", {{"count", 3}}}, {"status", {{"ignored", true}}}});
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_EQ(*(*p)->meta.label("a"), "b");
  EXPECT_EQ((*p)->at("/resource/count"), 3);
  EXPECT_EQ((*p)->at("/resource/instanceType"), "Standard_NC24ads_A100_v4");
  EXPECT_FALSE((*p)->body.contains("status"));
  EXPECT_EQ((*p)->meta.generation, 2);

  auto s =
      store_.patch("Workspace", "default", "w", {{"status", {{"workerNodes", {"n"}}}}, {"resource", nullptr}}, true);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->at("/status/workerNodes/0"), "n");
  EXPECT_EQ((*s)->at("/resource/count"), 3);
  EXPECT_EQ((*s)->meta.generation, 2);

  // Removing a finalizer with a patch; a stale resourceVersion in the patch conflicts.
  EXPECT_TRUE(
      store_.patch("Workspace", "default", "w", {{"metadata", {{"resourceVersion", "1"}}}}).is(ErrorCode::kConflict));
  EXPECT_TRUE(store_.patch("Workspace", "default", "nope", json::object()).is(ErrorCode::kNotFound));
  EXPECT_TRUE(store_.patch("ConfigMap", "default", "x", json::object(), true).is(ErrorCode::kNotFound));
  (void)ws;
}

TEST_F(ObjectStoreTest, ListSortedAndFiltered) {
  auto mk = [&](const std::string& ns, const std::string& name, const std::string& app) {
    Object cm = make_object("ConfigMap", ns, name);
    cm.meta.labels["app"] = app;
    store_.create(cm).value();
  };
  mk("b", "z", "x");
  mk("a", "y", "x");
  mk("a", "b", "y");
  mk("c", "a", "x");
  auto all = store_.list("ConfigMap");
  ASSERT_TRUE(all.ok());
  std::vector<std::string> names;
  for (const auto& o : *all) names.push_back(o->meta.namespace_ + "/" + o->meta.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a/b", "a/y", "b/z", "c/a"}));

  ListOptions opts;
  opts.namespace_ = "a";
  EXPECT_EQ(store_.list("ConfigMap", opts)->size(), 2u);
  opts.selector = LabelSelector{{{"app", "x"}}, {}};
  auto ax = store_.list("ConfigMap", opts);
  ASSERT_EQ(ax->size(), 1u);
  EXPECT_EQ((*ax)[0]->meta.name, "y");
  opts.namespace_.clear();
  EXPECT_EQ(store_.list("ConfigMap", opts)->size(), 3u);
  EXPECT_TRUE(store_.list("Pod")->empty());
}

TEST_F(ObjectStoreTest, WatchDeliversAsyncAndInOrder) {
  store_.create(make_object("ConfigMap", "ns2", "b")).value();
  store_.create(make_object("ConfigMap", "ns1", "c")).value();
  store_.create(make_object("ConfigMap", "ns1", "a")).value();
  std::vector<Recorded> all, ns1;
  auto s_all = record("ConfigMap", "", all);
  auto s_ns1 = record("ConfigMap", "ns1", ns1);
  EXPECT_TRUE(all.empty());  // never synchronous
  Object cm = make_object("ConfigMap", "ns2", "d");
  store_.create(cm).value();
  EXPECT_TRUE(all.empty());
  loop_.drain();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].name, "a");
  EXPECT_EQ(all[1].name, "c");
  EXPECT_EQ(all[2].name, "b");
  EXPECT_EQ(all[3].name, "d");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(all[i].type, WatchEventType::kAdded);
  EXPECT_EQ(all[3].type, WatchEventType::kAdded);
  ASSERT_EQ(ns1.size(), 2u);

  // A handler that writes sees its own write later, in order.
  std::vector<std::string> seen;
  auto s_chain = store_.watch("Secret", "default", [&](const WatchEvent& ev) {
    seen.push_back(ev.object->meta.name);
    if (ev.object->meta.name == "first") store_.create(make_object("Secret", "default", "second")).value();
  });
  store_.create(make_object("Secret", "default", "first")).value();
  loop_.drain();
  EXPECT_EQ(seen, (std::vector<std::string>{"first", "second"}));
}

TEST_F(ObjectStoreTest, StoppedOrDestroyedWatchGetsNothingMore) {
  std::vector<Recorded> a, b;
  auto sa = record("ConfigMap", "", a);
  auto sb = record("ConfigMap", "", b);
  store_.create(make_object("ConfigMap", "d", "x")).value();
  sa->stop();  // queued delivery must not arrive
  sb.reset();  // same for a destroyed subscription
  loop_.drain();
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(b.empty());
  store_.create(make_object("ConfigMap", "d", "y")).value();
  loop_.drain();
  EXPECT_TRUE(a.empty());
}

TEST_F(ObjectStoreTest, SubscriptionMayOutliveStore) {
  ManualLoop loop;
  std::vector<Recorded> events;
  std::unique_ptr<WatchSubscription> sub;
  {
    ObjectStore store(loop, loop);
    sub = store.watch("ConfigMap", "", [&](const WatchEvent& ev) { events.push_back({ev.type, "", ""}); });
    store.create(make_object("ConfigMap", "d", "x")).value();
  }
  loop.drain();
  EXPECT_TRUE(events.empty());
  sub->stop();
  sub.reset();
}

TEST_F(ObjectStoreTest, AdmissionRejectsCreateAndUpdate) {
  int calls = 0;
  store_.set_admission([&](const Object* old_obj, const Object& obj) -> Status {
    ++calls;
    if (obj.kind == "Workspace" && obj.at("/resource/count") == 0)
      return make_error(ErrorCode::kInvalid, "resource.count must be at least 1");
    if (old_obj && obj.meta.labels.count("frozen")) return make_error(ErrorCode::kInvalid, "frozen");
    return {};
  });
  Object bad = workspace("bad");
  bad.body["resource"]["count"] = 0;
  auto r = store_.create(bad);
  ASSERT_TRUE(r.is(ErrorCode::kInvalid));
  EXPECT_EQ(r.error().message, "resource.count must be at least 1");
  EXPECT_EQ(store_.object_count(), 0u);

  Object ws = **store_.create(workspace("ok"));
  ws.meta.labels["frozen"] = "yes";
  EXPECT_TRUE(store_.update(ws).is(ErrorCode::kInvalid));
  // Status writes are not admitted.
  ws.body["status"] = {{"x", 1}};
  EXPECT_TRUE(store_.update_status(ws).ok());
  EXPECT_EQ(calls, 3);  // create, create, update
}

//! A thread-safe executor whose tasks the test runs at the end (writers run on real threads).
class LockedQueue : public Executor, public Clock {
 public:
  Time now() const override { return kSimEpoch; }
  void post(std::function<void()> task) override {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  void post_after(Duration, std::function<void()> task) override { post(std::move(task)); }
  void drain() {
    for (;;) {
      std::function<void()> task;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

 private:
  std::mutex mu_;
  std::deque<std::function<void()>> tasks_;
};

TEST(ObjectStoreThreadsTest, OptimisticConcurrencyFromManyThreads) {
  LockedQueue q;
  ObjectStore store(q, q);
  ASSERT_TRUE(store.create(make_object("ConfigMap", "default", "counter", {{"data", {{"n", "0"}}}})).ok());
  std::vector<std::string> seen;
  auto sub =
      store.watch("ConfigMap", "default", [&](const WatchEvent& ev) { seen.push_back(ev.object->str("/data/n")); });
  constexpr int kThreads = 4, kIncrements = 200;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements;) {
        Object cm = **store.get("ConfigMap", "default", "counter");
        cm.body["data"]["n"] = std::to_string(std::stoi(cm.str("/data/n")) + 1);
        auto r = store.update(cm);
        if (r.ok())
          ++i;
        else if (r.is(ErrorCode::kConflict))
          ++conflicts;
        else
          FAIL() << r.error().to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  q.drain();
  EXPECT_EQ((*store.get("ConfigMap", "default", "counter"))->str("/data/n"), std::to_string(kThreads * kIncrements));
  ASSERT_EQ(seen.size(), static_cast<size_t>(kThreads * kIncrements + 1));
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], std::to_string(i));  // every write, in order
}

}  // namespace
}  // namespace ktwin::cluster_model
