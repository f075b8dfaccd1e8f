// The `ktwin` subcommands. Each lives in its own cli/cmd_*.cc and registers itself with
// KTWIN_REGISTER_COMMAND; main() dispatches on the first argument.
#pragma once
#include <string>
#include <vector>

namespace ktwin::cli {

//! Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;    //!< ran, but an expectation/validation failed
inline constexpr int kExitBadInput = 2;  //!< input could not be read, parsed or understood
inline constexpr int kExitInternal = 3;  //!< anything else failed (I/O, the results database)

struct Command {
  std::string name;
  std::string summary;                //!< one line for `ktwin --help`
  int (*run)(int argc, char** argv);  //!< argv[0] is "ktwin <name>"
};

void register_command(Command cmd);
const std::vector<Command>& commands();

struct CommandRegistrar {
  explicit CommandRegistrar(Command cmd) { register_command(std::move(cmd)); }
};

}  // namespace ktwin::cli

#define KTWIN_REGISTER_COMMAND(ident, name, summary, fn)        \
  static ::ktwin::cli::CommandRegistrar ktwin_command_##ident { \
    ::ktwin::cli::Command { name, summary, fn }                 \
  }
