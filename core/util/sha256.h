// SHA-256 (FIPS 180-4), hand-written so the core depends only on std. Used for scenario hashes and
// event-log fingerprints, where the same bytes must give the same digest on every machine.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ktwin {

//! Incremental SHA-256: update() any number of times, then digest() or hex_digest() once.
class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void update(std::string_view data);
  void update(const void* data, size_t size);
  //! Finishes the hash; the object must be reset() before further updates.
  Digest digest();
  std::string hex_digest();  //!< 64 lower-case hex characters
  void reset();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

//! SHA-256 of `data` as 64 lower-case hex characters.
std::string sha256_hex(std::string_view data);
//! Lower-case hex of arbitrary bytes.
std::string to_hex(const uint8_t* data, size_t size);

}  // namespace ktwin
