// Entry point of `ktwin`: dispatches to the registered subcommands.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "core/input_error.h"

namespace {
void print_usage() {
  std::printf("ktwin: KAITO operator core against a live cluster or a deterministic simulated one\n\n");
  std::printf("Usage: ktwin <command> [options]\n\nCommands:\n");
  for (const auto& c : ktwin::cli::commands()) std::printf("  %-10s %s\n", c.name.c_str(), c.summary.c_str());
  std::printf("\nRun `ktwin <command> --help` for a command's options.\n");
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    print_usage();
    return argc < 2 ? ktwin::cli::kExitBadInput : ktwin::cli::kExitOk;
  }
  for (const auto& c : ktwin::cli::commands()) {
    if (c.name != argv[1]) continue;
    std::string prog = std::string("ktwin ") + argv[1];
    argv[1] = prog.data();
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const ktwin::InputError& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return ktwin::cli::kExitBadInput;
    } catch (const std::exception& e) {
      // Not the input's fault (a full disk, a locked database): say what failed instead of aborting.
      std::fprintf(stderr, "ktwin %s: %s\n", c.name.c_str(), e.what());
      return ktwin::cli::kExitInternal;
    }
  }
  std::fprintf(stderr, "ktwin: unknown command \"%s\"\n\n", argv[1]);
  print_usage();
  return ktwin::cli::kExitBadInput;
}
