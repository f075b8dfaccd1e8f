#include "cli/verdicts.h"

#include <cstdio>

namespace ktwin::cli {

int print_expectations(const std::vector<sim::ExpectationResult>& expectations) {
  int passed = 0;
  std::printf("Expectations:\n");
  for (const auto& e : expectations) {
    passed += e.passed;
    std::printf("  %s  %s  (%s)\n", e.passed ? "PASS" : "FAIL", e.text.c_str(), e.detail.c_str());
  }
  if (expectations.empty()) std::printf("  (none)\n");
  return passed;
}

}  // namespace ktwin::cli
