// Helpers shared by the benchmark harnesses: peak resident memory per benchmark.
#pragma once
#include <malloc.h>

#include <fstream>
#include <string>

namespace ktwin::bench {

//! Peak resident set (VmHWM) of this process in MiB.
inline double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

//! Restarts the peak at the current resident set (Linux clear_refs 5), so each benchmark reports its own;
//! memory an earlier benchmark freed goes back to the system first, or it would still count as resident.
inline void reset_peak_rss() {
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

}  // namespace ktwin::bench
