#include "core/util/yaml_guard.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <string>

namespace ktwin {

namespace {

// The common shapes, found by a scan of the text so the error can point at the comma itself.
YamlHazard find_comma_hazard(std::string_view text) {
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

// yaml-cpp 0.7's LoadAll calls HandleNextDocument until the stream is used up; on a token no node can
// start with, a document ends without consuming it and the loop never does. Running the parser here
// with a handler that only counts, we stop at the first document that makes no progress, or at an
// event count no document of this size can produce.
class ProgressCheck : public YAML::EventHandler {
 public:
  explicit ProgressCheck(size_t bytes) : budget_(4 * bytes + 64) {}
  struct TooManyEvents {
    YAML::Mark mark;
  };
  YAML::Mark doc_start;

  void OnDocumentStart(const YAML::Mark& mark) override {
    doc_start = mark;
    count(mark);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    count(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnMapEnd() override {}

 private:
  void count(const YAML::Mark& mark) {
    if (++events_ > budget_) throw TooManyEvents{mark};
  }
  size_t budget_;
  size_t events_ = 0;
};

YamlHazard find_stuck_parser(std::string_view text) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  ProgressCheck check(text.size());
  int last_pos = -1;
  try {
    for (size_t docs = 0; parser.HandleNextDocument(check); ++docs) {
      if (check.doc_start.pos <= last_pos || docs > text.size())
        return {check.doc_start.line + 1, check.doc_start.column + 1};
      last_pos = check.doc_start.pos;
    }
  } catch (const ProgressCheck::TooManyEvents& e) {
    return {e.mark.line + 1, e.mark.column + 1};
  } catch (const YAML::Exception&) {
    return {};  // a syntax error: the real parse reports it with its message
  }
  return {};
}

}  // namespace

YamlHazard find_yaml_parser_hazard(std::string_view text) {
  if (YamlHazard h = find_comma_hazard(text); h.line > 0) return h;
  return find_stuck_parser(text);
}

}  // namespace ktwin
