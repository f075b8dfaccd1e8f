// The store's label index must answer list-by-selector exactly as a full scan would, through
// creates, relabels, finalizer-held deletions and removals.
#include <gtest/gtest.h>

#include <random>

#include "cluster_model/object_store.h"
#include "tests/cluster_model/test_support.h"

namespace ktwin::cluster_model {
namespace {

std::vector<std::string> names_of(const std::vector<ObjectPtr>& objs) {
  std::vector<std::string> out;
  for (const auto& o : objs) out.push_back(o->meta.namespace_ + "/" + o->meta.name);
  return out;
}

TEST(LabelIndex, MatchesFullScanUnderRandomWrites) {
  testing::ManualLoop loop;
  ObjectStore store(loop, loop);
  std::mt19937 rng(12345);  // seeded: failures reproduce
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* keys[] = {"app", "tier", "kaito.sh/workspace"};
  for (int step = 0; step < 3000; ++step) {
    const std::string name = "o" + std::to_string(pick(150));
    const std::string ns = "ns" + std::to_string(pick(3));
    auto existing = store.get("ConfigMap", ns, name);
    const int action = pick(4);
    if (!existing) {
      Object o;
      o.kind = "ConfigMap";
      o.meta.name = name;
      o.meta.namespace_ = ns;
      for (const char* k : keys)
        if (pick(2)) o.meta.labels[k] = "v" + std::to_string(pick(3));
      if (pick(4) == 0) o.meta.finalizers.push_back("test/hold");
      ASSERT_TRUE(store.create(o).ok());
    } else if (action == 0) {
      ASSERT_TRUE(store.remove("ConfigMap", ns, name).ok());
    } else if (action == 1 && !(*existing)->meta.finalizers.empty()) {
      Object o = **existing;
      o.meta.finalizers.clear();
      ASSERT_TRUE(store.update(o).ok());
    } else {
      Object o = **existing;
      const char* k = keys[pick(3)];
      if (pick(3) == 0)
        o.meta.labels.erase(k);
      else
        o.meta.labels[k] = "v" + std::to_string(pick(3));
      ASSERT_TRUE(store.update(o).ok());
    }
    if (step % 50 != 0) continue;
    LabelSelector sel;
    sel.match_labels[keys[pick(3)]] = "v" + std::to_string(pick(3));
    if (pick(2)) sel.match_labels[keys[pick(3)]] = "v" + std::to_string(pick(3));
    ListOptions by_index;
    by_index.selector = sel;
    if (pick(2)) by_index.namespace_ = "ns" + std::to_string(pick(3));
    auto all = store.list("ConfigMap");
    ASSERT_TRUE(all.ok());
    std::vector<ObjectPtr> scanned;
    for (const auto& o : all.value())
      if (sel.matches(o->meta.labels) && (by_index.namespace_.empty() || o->meta.namespace_ == by_index.namespace_))
        scanned.push_back(o);
    auto indexed = store.list("ConfigMap", by_index);
    ASSERT_TRUE(indexed.ok());
    ASSERT_EQ(names_of(indexed.value()), names_of(scanned)) << "step " << step << " selector " << sel.to_string();
  }
}

}  // namespace
}  // namespace ktwin::cluster_model
