// The fuzzed entry points. Anything other than the documented rejection (InputError, or for object decoding
// std::invalid_argument / kaito::FieldError) escapes and is a finding: libFuzzer reports the uncaught
// exception, the sanitizers report memory and UB errors.
#include "fuzz/targets.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "catalog/catalog.h"
#include "catalog/yaml_json.h"
#include "core/admission/workspace_validation.h"
#include "core/api/workspace.h"
#include "core/input_error.h"
#include "core/object.h"
#include "sim/scenario.h"

namespace ktwin::fuzz {
namespace {

// Files a fuzzed scenario names relative to itself resolve here, where nothing exists.
constexpr const char* kScenarioPath = "/nonexistent-ktwin-fuzz/scenario.yaml";

// A property violation (not a crash) must still stop the fuzzer with the input saved.
[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

admission::AdmissionContext context() {
  const catalog::Catalog& cat = catalog::default_catalog();
  admission::AdmissionContext ctx;
  ctx.presets = &cat.presets;
  ctx.skus = &cat.skus;
  return ctx;
}

// Decoding is allowed to refuse; once it accepts, the typed spec and the webhook must cope.
void review(const Object& obj) {
  if (!kaito::is_workspace(obj)) return;
  try {
    (void)kaito::parse_workspace_spec(obj);
  } catch (const kaito::FieldError&) {
  }
  static const admission::AdmissionContext ctx = context();
  (void)admission::review_workspace_create(obj, ctx);
  (void)admission::review_workspace_update(obj, obj, ctx);
}

}  // namespace

void scenario(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)sim::parse_scenario(text, kScenarioPath);
  } catch (const InputError&) {
  }
}

void manifest(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<catalog::YamlDocument> docs;
  try {
    docs = catalog::parse_yaml(text, "fuzz.yaml");
  } catch (const InputError&) {
    return;
  }
  for (const auto& doc : docs) {
    if (!doc.value.is_object()) continue;
    Object obj;
    try {
      obj = object_from_json(doc.value);
    } catch (const std::invalid_argument&) {
      continue;
    }
    review(obj);
  }
}

void object_json(const uint8_t* data, size_t size) {
  const json j = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return;
  Object obj;
  try {
    obj = object_from_json(j);
  } catch (const std::invalid_argument&) {
    return;
  }
  // What we send back must decode to the same object.
  const json once = to_json(obj);
  const json twice = to_json(object_from_json(once));
  if (once != twice) violated("to_json(object_from_json(to_json(o))) != to_json(o)");
  review(obj);
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"scenario", &scenario}, {"manifest", &manifest}, {"object_json", &object_json}};
  return all;
}

}  // namespace ktwin::fuzz
