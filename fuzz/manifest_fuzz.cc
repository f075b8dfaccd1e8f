// libFuzzer target: see ktwin::fuzz::manifest() in fuzz/targets.h. Built by `make fuzz` (clang).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ktwin::fuzz::manifest(data, size);
  return 0;
}
