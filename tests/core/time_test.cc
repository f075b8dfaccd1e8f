// Durations and timestamps as users and Kubernetes write them.
#include <gtest/gtest.h>

#include "core/k8s/printers.h"
#include "core/time.h"

namespace ktwin {
namespace {

TEST(Duration, ParsesGoSyntax) {
  EXPECT_EQ(parse_duration("90s"), 90 * kSecond);
  EXPECT_EQ(parse_duration("15m"), 15 * kMinute);
  EXPECT_EQ(parse_duration("1h30m"), 90 * kMinute);
  EXPECT_EQ(parse_duration("800ms"), 800 * kMillisecond);
  EXPECT_EQ(parse_duration("1.5s"), 1500 * kMillisecond);
  EXPECT_EQ(parse_duration("0"), 0);
  EXPECT_EQ(parse_duration("-2s"), -2 * kSecond);
}

TEST(Duration, RejectsMissingOrUnknownUnits) {
  EXPECT_FALSE(parse_duration("15"));
  EXPECT_FALSE(parse_duration("abc"));
  EXPECT_FALSE(parse_duration("10 m"));
  EXPECT_FALSE(parse_duration("5x"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("."));
}

TEST(Duration, FormatsShortest) {
  EXPECT_EQ(format_duration(2 * kHour), "2h");
  EXPECT_EQ(format_duration(90 * kSecond), "1m30s");
  EXPECT_EQ(format_duration(800 * kMillisecond), "800ms");
  EXPECT_EQ(format_duration(0), "0s");
}

TEST(Rfc3339, RoundTrips) {
  EXPECT_EQ(format_rfc3339(kSimEpoch), "2025-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(kSimEpoch + 10 * kMinute), "2025-01-01T00:10:00Z");
  EXPECT_EQ(parse_rfc3339("2025-01-01T00:10:00Z"), kSimEpoch + 10 * kMinute);
  EXPECT_EQ(parse_rfc3339("2025-01-01T01:10:00+01:00"), kSimEpoch + 10 * kMinute);
  EXPECT_EQ(parse_rfc3339("2024-02-29T12:00:00.5Z"),
            parse_rfc3339("2024-02-29T12:00:00Z").value() + 500 * kMillisecond);
  EXPECT_FALSE(parse_rfc3339("2025-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("yesterday"));
}

TEST(HumanDuration, MatchesKubectl) {
  EXPECT_EQ(human_duration(45 * kSecond), "45s");
  EXPECT_EQ(human_duration(119 * kSecond), "119s");
  EXPECT_EQ(human_duration(5 * kMinute + 30 * kSecond), "5m30s");
  EXPECT_EQ(human_duration(25 * kMinute), "25m");
  EXPECT_EQ(human_duration(2 * kHour + 5 * kMinute), "125m");
  EXPECT_EQ(human_duration(4 * kHour + 5 * kMinute), "4h5m");
  EXPECT_EQ(human_duration(30 * kHour), "30h");
  EXPECT_EQ(human_duration(76 * kHour), "3d4h");
}

}  // namespace
}  // namespace ktwin

namespace ktwin {
namespace {

TEST(Printers, SeveralNamespacesPrintLikeGetAll) {
  auto ws = [](const char* ns, const char* name) {
    auto o = std::make_shared<Object>();
    o->kind = "StatefulSet";
    o->meta.name = name;
    o->meta.namespace_ = ns;
    o->meta.creation_timestamp = kSimEpoch;
    o->body = {{"spec", {{"replicas", 1}}}, {"status", {{"readyReplicas", 1}}}};
    return ObjectPtr(o);
  };
  const std::string one = print_objects("StatefulSet", {ws("a", "x")}, kSimEpoch + kMinute);
  EXPECT_EQ(one, "NAME   READY   AGE\nx      1/1     60s\n");
  const std::string two = print_objects("StatefulSet", {ws("a", "x"), ws("b", "y")}, kSimEpoch + kMinute);
  EXPECT_EQ(two, "NAMESPACE   NAME   READY   AGE\na           x      1/1     60s\nb           y      1/1     60s\n");
  EXPECT_EQ(print_objects("Node", {}, kSimEpoch), "No resources found\n");
}

}  // namespace
}  // namespace ktwin
