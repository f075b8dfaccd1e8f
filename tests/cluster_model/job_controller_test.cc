// Job controller: the pod it creates, success, failures with backoff up to backoffLimit, deadline.
#include "cluster_model/job_controller.h"

#include <gtest/gtest.h>

#include "cluster_model/object_store.h"
#include "core/k8s/conditions.h"
#include "tests/cluster_model/test_support.h"

namespace ktwin::cluster_model {
namespace {

using testing::make_object;
using testing::ManualLoop;
using testing::TestKubelet;

Object job(const std::string& name, json extra_spec = json::object()) {
  Object j = make_object("Job", "default", name);
  j.api_version = "batch/v1";
  j.body["spec"] = {{"template",
                     {{"metadata", {{"labels", {{"app", "tuning"}}}}},
                      {"spec", {{"containers", json::array({{{"name", "tune"}, {"image", "tuner"}}})}}}}}};
  for (auto it = extra_spec.begin(); it != extra_spec.end(); ++it) j.body["spec"][it.key()] = it.value();
  return j;
}

class JobTest : public ::testing::Test {
 protected:
  ManualLoop loop_;
  ObjectStore store_{loop_, loop_};
  JobController controller_{store_, loop_, loop_};
  TestKubelet kubelet_{store_, loop_, false};

  void SetUp() override { controller_.start(); }

  std::vector<ObjectPtr> pods() { return store_.list("Pod").value(); }
  ObjectPtr get_job(const std::string& name) { return store_.get("Job", "default", name).value(); }
  std::vector<ObjectPtr> live_pods() {
    std::vector<ObjectPtr> out;
    for (const auto& p : pods()) {
      const std::string phase = p->str("/status/phase");
      if (phase != "Failed" && phase != "Succeeded") out.push_back(p);
    }
    return out;
  }
};

TEST_F(JobTest, CreatesOnePodAndCompletes) {
  auto created = store_.create(job("tune"));
  ASSERT_TRUE(created.ok());
  loop_.drain();
  ASSERT_EQ(pods().size(), 1u);
  ObjectPtr pod = pods()[0];
  EXPECT_EQ(pod->meta.name.size(), std::string("tune-").size() + 5);
  EXPECT_EQ(pod->meta.name.rfind("tune-", 0), 0u);
  EXPECT_EQ(*pod->meta.label("job-name"), "tune");
  EXPECT_EQ(*pod->meta.label("controller-uid"), (*created)->meta.uid);
  EXPECT_EQ(*pod->meta.label("batch.kubernetes.io/job-name"), "tune");
  EXPECT_EQ(*pod->meta.label("app"), "tuning");
  EXPECT_EQ(pod->str("/spec/restartPolicy"), "Never");
  ASSERT_NE(pod->meta.controller_ref(), nullptr);
  EXPECT_EQ(pod->meta.controller_ref()->uid, (*created)->meta.uid);

  auto j = get_job("tune");
  EXPECT_EQ(j->num("/status/active"), 1);
  EXPECT_EQ(j->num("/status/ready"), 1);  // the kubelet stand-in made it Running and Ready
  EXPECT_FALSE(j->str("/status/startTime").empty());

  loop_.advance(5 * kMinute);
  kubelet_.set_phase("default", pod->meta.name, "Succeeded", false);
  loop_.drain();
  j = get_job("tune");
  EXPECT_EQ(j->num("/status/succeeded"), 1);
  EXPECT_EQ(j->num("/status/active"), 0);
  EXPECT_TRUE(condition_is_true(j->at("/status/conditions"), "Complete"));
  EXPECT_EQ(j->str("/status/completionTime"), format_rfc3339(kSimEpoch + 5 * kMinute));
  EXPECT_EQ(pods().size(), 1u);
}

TEST_F(JobTest, FailedPodsAreReplacedUntilBackoffLimit) {
  ASSERT_TRUE(store_.create(job("tune", {{"backoffLimit", 2}})).ok());
  loop_.drain();
  // Three pods may fail (1 + backoffLimit retries); the delay doubles: 10 s, 20 s.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto live = live_pods();
    ASSERT_EQ(live.size(), 1u) << "attempt " << attempt;
    kubelet_.set_phase("default", live[0]->meta.name, "Failed", false);
    loop_.drain();
    EXPECT_EQ(get_job("tune")->num("/status/failed"), attempt + 1);
    if (attempt < 2) {
      EXPECT_TRUE(live_pods().empty()) << "the replacement waits for the backoff";
      loop_.advance((10 * kSecond << attempt) - kSecond);
      EXPECT_TRUE(live_pods().empty());
      loop_.advance(kSecond);
    }
  }
  auto j = get_job("tune");
  auto failed = find_condition(j->at("/status/conditions"), "Failed");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, "True");
  EXPECT_EQ(failed->reason, "BackoffLimitExceeded");
  EXPECT_EQ(j->num("/status/failed"), 3);
  EXPECT_EQ(pods().size(), 3u);
  loop_.advance(10 * kMinute);
  EXPECT_EQ(pods().size(), 3u);  // no more pods after failure
}

TEST_F(JobTest, VanishedPodIsReplaced) {
  ASSERT_TRUE(store_.create(job("tune")).ok());
  loop_.drain();
  ASSERT_EQ(pods().size(), 1u);
  const std::string first = pods()[0]->meta.name;
  ASSERT_TRUE(store_.remove("Pod", "default", first).ok());  // unbound: gone at once
  loop_.drain();
  ASSERT_EQ(pods().size(), 1u);
  EXPECT_NE(pods()[0]->meta.name, first);
  EXPECT_EQ(get_job("tune")->num("/status/failed"), 0);
}

TEST_F(JobTest, ActiveDeadline) {
  ASSERT_TRUE(store_.create(job("tune", {{"activeDeadlineSeconds", 60}})).ok());
  loop_.drain();
  ASSERT_EQ(live_pods().size(), 1u);
  loop_.advance(61 * kSecond);
  auto failed = find_condition(get_job("tune")->at("/status/conditions"), "Failed");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->reason, "DeadlineExceeded");
  EXPECT_TRUE(pods().empty());  // the active pod was deleted (unbound: at once)
}

}  // namespace
}  // namespace ktwin::cluster_model
