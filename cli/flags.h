// Flag parsing shared by every command: a bad flag or a stray argument prints the error and the usage
// (exit 2); --help prints the usage and what the exit codes mean (exit 0).
#pragma once
#include <cxxopts.hpp>

#include <optional>
#include <string>

namespace ktwin::cli {

//! Parses into `result`. nullopt: carry on; otherwise the command returns this exit code.
std::optional<int> parse_flags(cxxopts::Options& opts, int argc, char** argv, cxxopts::ParseResult& result,
                               const std::string& exit_status_help = "");

}  // namespace ktwin::cli
