// The expectation verdicts of a scenario run, printed the same way by `ktwin run` and `ktwin serve`.
#pragma once
#include <vector>

#include "sim/runner.h"

namespace ktwin::cli {

//! Prints "Expectations:" and one PASS/FAIL line each; returns how many passed.
int print_expectations(const std::vector<sim::ExpectationResult>& expectations);

}  // namespace ktwin::cli
