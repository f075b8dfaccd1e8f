// libFuzzer target: see ktwin::fuzz::object_json() in fuzz/targets.h. Built by `make fuzz` (clang).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ktwin::fuzz::object_json(data, size);
  return 0;
}
