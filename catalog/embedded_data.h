// Data files (presets/*.yaml) compiled into the binary; the generated table lives in the build tree.
#pragma once
#include <string_view>
#include <vector>

namespace ktwin::catalog {

struct EmbeddedFile {
  std::string_view path;  //!< relative to the repository root, e.g. "presets/models/phi-3.yaml"
  std::string_view contents;
};

const std::vector<EmbeddedFile>& embedded_files();

}  // namespace ktwin::catalog
