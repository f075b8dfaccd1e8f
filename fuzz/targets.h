// Entry points the libFuzzer targets (fuzz/*_fuzz.cc) and the crash regression tests (tests/regress/) share:
// each feeds one input to a parser the way ktwin does and lets only the documented error types through.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ktwin::fuzz {

//! A scenario file (sim::parse_scenario); InputError is the expected way to reject it.
void scenario(const uint8_t* data, size_t size);
//! A manifest file: YAML documents -> objects -> Workspace spec -> KAITO's admission review.
void manifest(const uint8_t* data, size_t size);
//! An API object as JSON (what the API server sends): decode, encode, decode again, review.
void object_json(const uint8_t* data, size_t size);

struct Target {
  const char* name;
  void (*run)(const uint8_t*, size_t);
};
const std::vector<Target>& targets();

}  // namespace ktwin::fuzz
