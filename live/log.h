// Structured logs for the operator process: one line per record on stderr, as text or as JSON
// (`--log-format json`, one object per line with ts, level, logger, msg and fields), thread-safe.
#pragma once
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ktwin::live {

enum class LogFormat { kText, kJson };

class Logger {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;
  explicit Logger(LogFormat format = LogFormat::kText, std::FILE* out = stderr) : format_(format), out_(out) {}
  void info(const std::string& logger, const std::string& msg, const Fields& fields = {}) {
    write("info", logger, msg, fields);
  }
  void error(const std::string& logger, const std::string& msg, const Fields& fields = {}) {
    write("error", logger, msg, fields);
  }
  void write(const char* level, const std::string& logger, const std::string& msg, const Fields& fields);

 private:
  LogFormat format_;
  std::FILE* out_;
  std::mutex mu_;
};

}  // namespace ktwin::live
