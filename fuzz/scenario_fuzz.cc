// libFuzzer target: see ktwin::fuzz::scenario() in fuzz/targets.h. Built by `make fuzz` (clang).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ktwin::fuzz::scenario(data, size);
  return 0;
}
