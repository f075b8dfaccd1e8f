#include "cli/commands.h"

#include <algorithm>

namespace ktwin::cli {

namespace {
std::vector<Command>& registry() {
  static std::vector<Command> cmds;
  return cmds;
}
}  // namespace

void register_command(Command cmd) {
  auto& r = registry();
  r.push_back(std::move(cmd));
  std::sort(r.begin(), r.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
}

const std::vector<Command>& commands() { return registry(); }

}  // namespace ktwin::cli
