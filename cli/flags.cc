#include "cli/flags.h"

#include <cstdio>

#include "cli/commands.h"

namespace ktwin::cli {

std::optional<int> parse_flags(cxxopts::Options& opts, int argc, char** argv, cxxopts::ParseResult& result,
                               const std::string& exit_status_help) {
  try {
    result = opts.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "error: %s\n\n%s", e.what(), opts.help().c_str());
    return kExitBadInput;
  }
  if (result.count("help")) {
    std::printf("%s", opts.help().c_str());
    if (!exit_status_help.empty()) std::printf("\nExit status: %s\n", exit_status_help.c_str());
    return kExitOk;
  }
  if (!result.unmatched().empty()) {
    std::fprintf(stderr, "error: unexpected argument \"%s\"\n\n%s", result.unmatched().front().c_str(),
                 opts.help().c_str());
    return kExitBadInput;
  }
  return std::nullopt;
}

}  // namespace ktwin::cli
