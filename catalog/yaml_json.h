// Reads YAML into JSON while remembering where every value came from, so that any later check can
// report "file:line:column: field.path: message". Used for scenarios, manifests and catalog data.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/input_error.h"
#include "core/object.h"
#include "core/util/json_pointer.h"

namespace ktwin::catalog {

struct SourcePos {
  int line = 0;    //!< 1-based
  int column = 0;  //!< 1-based
};

//! A YAML document converted to JSON, with the source position of every node keyed by its JSON
//! pointer ("" is the root, "/workspaces/0/file" a nested value).
class YamlDocument {
 public:
  std::string file;
  json value;
  std::map<std::string, SourcePos> positions;
  std::map<std::string, SourcePos> key_positions;  //!< where the key of a map entry stands

  //! Position of the value at `pointer`, or of its nearest ancestor.
  SourcePos position_of(const std::string& pointer) const;
  //! Builds an InputError at `pointer`; `field` is the dotted path shown to the user ("traffic[0].rate").
  InputError error(const std::string& pointer, const std::string& message) const;
  //! Same, but positioned on the key (for unknown-key errors).
  InputError key_error(const std::string& pointer, const std::string& message) const;
};

using ::ktwin::field_path;
using ::ktwin::pointer_join;

//! Parses every document in `text`. Plain scalars become bool/null/int/float where YAML 1.2's core
//! schema says so; quoted scalars stay strings. Throws InputError with the file, line and column of
//! a syntax error, a duplicate key or an unsupported construct.
std::vector<YamlDocument> parse_yaml(const std::string& text, const std::string& file);
//! Reads and parses a file; throws InputError when it cannot be read.
std::vector<YamlDocument> load_yaml_file(const std::string& path);
std::string read_text_file(const std::string& path);  //!< throws InputError when unreadable

//! Checks that the map at `pointer` holds only `allowed` keys; an unknown key raises an InputError on
//! that key with a "did you mean" suggestion when one is close.
void check_keys(const YamlDocument& doc, const std::string& pointer, const std::vector<std::string>& allowed);
//! Edit distance based suggestion, or "" when nothing is close enough.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace ktwin::catalog
