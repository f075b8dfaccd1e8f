// A pre-check for YAML text before yaml-cpp 0.7 (Debian 12) parses it: that version loops forever, taking
// all memory, on a ',' in block context where a token starts (a line beginning with ',', or "a",b and
// [a],b), which fuzzing found. The scan rejects such a ',' outside quotes, flow collections and block
// scalars; that is never valid YAML except as a plain scalar's continuation line, which we give up.
#pragma once
#include <string_view>

namespace ktwin {

struct YamlHazard {
  int line = 0;    //!< 1-based; 0 when the text is safe to give to yaml-cpp
  int column = 0;  //!< 1-based
};
YamlHazard find_yaml_parser_hazard(std::string_view text);

}  // namespace ktwin
