#include "core/util/yaml_guard.h"

#include <algorithm>
#include <string>

namespace ktwin {

YamlHazard find_yaml_parser_hazard(std::string_view text) {
  int flow_depth = 0;
  char quote = 0;                // '"' or '\'' while inside a quoted scalar (which may span lines)
  int block_scalar_parent = -1;  // indentation of the line that opened a | or > scalar, -1 when none
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    ++line_no;
    size_t i = 0;
    while (i < line.size() && line[i] == ' ') ++i;
    const int indent = static_cast<int>(i);
    const bool blank = i == line.size() || line[i] == '\r';
    if (block_scalar_parent >= 0) {
      if (blank || indent > block_scalar_parent) {
        pos = end + 1;
        continue;  // block scalar content: anything goes
      }
      block_scalar_parent = -1;
    }
    if (quote == 0 && flow_depth == 0) {
      size_t j = i;
      while (j + 1 < line.size() && line[j] == '-' && (line[j + 1] == ' ' || line[j + 1] == '\t')) {
        j += 2;
        while (j < line.size() && line[j] == ' ') ++j;
      }
      if (j < line.size() && line[j] == ',') return {line_no, static_cast<int>(j) + 1};
    }
    // Walk the line for quotes, comments, flow brackets and a trailing block-scalar indicator.
    size_t content_end = line.size();  // where a comment starts
    bool after_node = false;           // just past a quoted scalar or flow collection in block context
    for (size_t k = i; k < line.size(); ++k) {
      const char c = line[k];
      if (quote == '"') {
        if (c == '\\')
          ++k;
        else if (c == '"')
          quote = 0, after_node = flow_depth == 0;
        continue;
      }
      if (quote == '\'') {
        if (c == '\'' && k + 1 < line.size() && line[k + 1] == '\'')
          ++k;
        else if (c == '\'')
          quote = 0, after_node = flow_depth == 0;
        continue;
      }
      if (after_node) {
        // yaml-cpp reads this ',' as a flow entry in block context and never returns ("a",b).
        if (c == ',') return {line_no, static_cast<int>(k) + 1};
        if (c != ' ' && c != '\t') after_node = false;
      }
      if (c == '#' && (k == 0 || line[k - 1] == ' ' || line[k - 1] == '\t')) {
        content_end = k;
        break;
      }
      // Quotes and brackets open a node only where one can start, not inside a plain scalar (it's, a[0]).
      const char before = k == i ? ' ' : line[k - 1];
      const bool node_start = before == ' ' || before == '\t' ||
                              (flow_depth > 0 && (before == '[' || before == '{' || before == ',' || before == ':'));
      if (c == '"' || c == '\'') {
        if (node_start || before == '-' || (flow_depth == 0 && before == ':')) quote = c;
      } else if ((c == '[' || c == '{') && (node_start || flow_depth > 0)) {
        ++flow_depth;
      } else if ((c == ']' || c == '}') && flow_depth > 0) {
        if (--flow_depth == 0) after_node = true;
      }
    }
    if (quote == 0 && flow_depth == 0) {
      // "key: |", "- >-", "key: |2": the following more-indented lines are literal content.
      std::string tail(line.substr(i, content_end > i ? content_end - i : 0));
      while (!tail.empty() && (tail.back() == ' ' || tail.back() == '\r' || tail.back() == '\t')) tail.pop_back();
      size_t t = tail.size();
      while (t > 0 && (tail[t - 1] == '-' || tail[t - 1] == '+' || (tail[t - 1] >= '0' && tail[t - 1] <= '9'))) --t;
      if (t > 0 && (tail[t - 1] == '|' || tail[t - 1] == '>') && (t == 1 || tail[t - 2] == ' ' || tail[t - 2] == ':'))
        block_scalar_parent = indent;
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  return {};
}

}  // namespace ktwin
