// The world's switchable parts (`ktwin twin --parts`) and kubectl-apply semantics shared by `ktwin run`
// and `ktwin twin`.
#include "sim/world.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace ktwin::sim {
namespace {

TEST(WorldParts, AllByDefaultAListChoosesAndMinusesLeaveOut) {
  EXPECT_EQ(world_parts_text(parse_world_parts("all")),
            "cloud,device-plugin,scheduler,kubelet,statefulset,job,gc,node-lifecycle");
  EXPECT_EQ(world_parts_text(parse_world_parts("")), world_parts_text(parse_world_parts("all")));
  const WorldParts chosen = parse_world_parts("cloud,kubelet");
  EXPECT_TRUE(chosen.cloud);
  EXPECT_TRUE(chosen.kubelet);
  EXPECT_FALSE(chosen.scheduler);
  EXPECT_FALSE(chosen.gc);
  EXPECT_EQ(world_parts_text(parse_world_parts("-statefulset,-job,-gc,-node-lifecycle")),
            "cloud,device-plugin,scheduler,kubelet");
}

TEST(WorldParts, UnknownOrMixedSpecsAreRejectedByName) {
  try {
    parse_world_parts("cloud,kublet");
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"kublet\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("kubelet"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_world_parts("cloud,-gc"), std::invalid_argument);
}

TEST(ApplyOnto, TakesTheManifestAndKeepsWhatTheServerAndControllerOwn) {
  Object existing;
  existing.api_version = "kaito.sh/v1alpha1";
  existing.kind = "Workspace";
  existing.meta.name = "ws";
  existing.meta.namespace_ = "default";
  existing.meta.uid = "u-1";
  existing.meta.finalizers = {"workspace.finalizer.kaito.sh"};
  existing.meta.labels = {{"old", "1"}};
  existing.meta.annotations = {{"workspace.kaito.io/revision", "1"}, {"note", "old"}};
  existing.body["resource"] = {{"instanceType", "Standard_NC6s_v3"}};
  existing.body["status"] = {{"state", "Ready"}};

  Object manifest;
  manifest.api_version = "kaito.sh/v1beta1";
  manifest.kind = "Workspace";
  manifest.meta.name = "ws";
  manifest.meta.namespace_ = "default";
  manifest.meta.labels = {{"new", "1"}};
  manifest.body["resource"] = {{"instanceType", "Standard_NC24ads_A100_v4"}};

  const Object out = apply_onto(existing, manifest);
  EXPECT_EQ(out.api_version, "kaito.sh/v1beta1");
  EXPECT_EQ(out.meta.uid, "u-1");
  EXPECT_EQ(out.meta.finalizers, existing.meta.finalizers);
  EXPECT_EQ(out.meta.labels, (Labels{{"new", "1"}}));
  EXPECT_EQ(out.meta.annotations.count("note"), 0u) << "annotations are the manifest's";
  EXPECT_EQ(out.meta.annotations.at("workspace.kaito.io/revision"), "1") << "the controller's stay";
  EXPECT_EQ(out.str("/resource/instanceType"), "Standard_NC24ads_A100_v4");
  EXPECT_EQ(out.str("/status/state"), "Ready");
}

}  // namespace
}  // namespace ktwin::sim
