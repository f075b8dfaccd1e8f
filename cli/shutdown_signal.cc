#include "cli/shutdown_signal.h"

#include <chrono>
#include <csignal>

namespace ktwin::cli {

namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_shutdown_signal(int sig) { g_signal = sig; }
}  // namespace

ShutdownSignal::ShutdownSignal(std::function<void(int)> on_signal) : on_signal_(std::move(on_signal)) {
  g_signal = 0;
  std::signal(SIGINT, on_shutdown_signal);
  std::signal(SIGTERM, on_shutdown_signal);
  watcher_ = std::thread([this] {
    while (!done_) {
      if (g_signal != 0) {
        on_signal_(g_signal);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
}

ShutdownSignal::~ShutdownSignal() {
  done_ = true;
  watcher_.join();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

int ShutdownSignal::received() const { return g_signal; }

}  // namespace ktwin::cli
