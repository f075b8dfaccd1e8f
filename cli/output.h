// Writing output files safely: everything goes to a temporary file first and is renamed into place,
// so a failed or interrupted command never leaves a half-written file.
#pragma once
#include <string>

namespace ktwin::cli {

//! Writes `content` to `path` atomically; throws InputError (naming the path) when it cannot.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace ktwin::cli
