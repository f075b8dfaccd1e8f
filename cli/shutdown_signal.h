// SIGINT/SIGTERM as a clean-shutdown request: a watcher thread turns the signal into a callback, so
// the callback may lock mutexes and join threads (a signal handler may not).
#pragma once
#include <atomic>
#include <functional>
#include <thread>

namespace ktwin::cli {

class ShutdownSignal {
 public:
  //! Installs the handlers; `on_signal` runs once, on the watcher thread, at the first SIGINT or SIGTERM.
  explicit ShutdownSignal(std::function<void(int signal)> on_signal);
  //! Restores the default handlers and stops the watcher.
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  //! The signal received (0: none yet).
  int received() const;

 private:
  std::function<void(int)> on_signal_;
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

}  // namespace ktwin::cli
