#include "live/log.h"

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "live/leader_election.h"
#include "live/threads.h"

namespace ktwin::live {

void Logger::write(const char* level, const std::string& logger, const std::string& msg, const Fields& fields) {
  const std::string ts = format_micro_time(WallClock().now());
  std::string line;
  if (format_ == LogFormat::kJson) {
    nlohmann::ordered_json j = {{"ts", ts}, {"level", level}, {"logger", logger}, {"msg", msg}};
    for (const auto& [k, v] : fields) j[k] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = ts + " " + level + " " + logger + ": " + msg;
    for (const auto& [k, v] : fields) line += " " + k + "=" + (v.find(' ') == std::string::npos ? v : "\"" + v + "\"");
  }
  line += "\n";
  std::lock_guard<std::mutex> lock(mu_);
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

}  // namespace ktwin::live
