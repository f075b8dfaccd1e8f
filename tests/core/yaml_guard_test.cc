// The pre-check that keeps yaml-cpp 0.7 away from inputs it loops forever on.
#include "core/util/yaml_guard.h"

#include <gtest/gtest.h>

namespace ktwin {
namespace {

TEST(YamlGuard, FlagsACommaWhereABlockNodeStarts) {
  EXPECT_EQ(find_yaml_parser_hazard(",\n").line, 1);
  const YamlHazard h = find_yaml_parser_hazard("# c\na: 1\n- x\n  , y\n");
  EXPECT_EQ(h.line, 4);
  EXPECT_EQ(h.column, 3);
  EXPECT_EQ(find_yaml_parser_hazard("- a\n- , b\n").column, 3);
  // After a quoted scalar or a flow collection (fuzzer inputs under tests/regress/).
  EXPECT_EQ(find_yaml_parser_hazard("\"a\",b\n").column, 4);
  EXPECT_EQ(find_yaml_parser_hazard("[a] ,b\n").column, 5);
  EXPECT_EQ(find_yaml_parser_hazard("{a: b},c\n").column, 7);
  EXPECT_EQ(find_yaml_parser_hazard("&a 'x',b\n").column, 7);
  // A comment ending in '|' opens no block scalar; a '[' inside a plain scalar opens no flow collection.
  EXPECT_EQ(find_yaml_parser_hazard("# a: |\n  \"x: \",rue\n").line, 2);
  EXPECT_EQ(find_yaml_parser_hazard("a: x[y\n, b\n").line, 2);
}

// Shapes the text scan misses are caught by running the parser and watching it make progress.
TEST(YamlGuard, FlagsADocumentThatConsumesNothing) {
  EXPECT_EQ(find_yaml_parser_hazard(std::string_view("\0,", 2)).line, 1);
  const YamlHazard h = find_yaml_parser_hazard("{\"a\":0b\":\"c)\"}\"d\",\"e\":f\"}\n");
  EXPECT_EQ(h.line, 1);
  EXPECT_GT(h.column, 1);
}

TEST(YamlGuard, LeavesValidYamlAlone) {
  for (const char* ok :
       {"a: [1,\n , 2]\n", "a: {x: 1,\n , y: 2}\n", "a: |\n  , literal\nb: 2\n", "a: >-\n  , folded\n",
        "a: \"x\n , y\"\n", "a: 'it''s\n , fine'\n", "a: x # , comment\n", "- \"a, b\"\n", "k: v\n", "k: v ,w\n",
        "k: [a, b] # x, y\n", "k: {a: [1, 2]}\n", "k: \"a\" # ,\n", "k: x[0], y\n", "k: 'a' \n", "- [a]\n- {b: c}\n"}) {
    EXPECT_EQ(find_yaml_parser_hazard(ok).line, 0) << ok;
  }
  EXPECT_EQ(find_yaml_parser_hazard("a: 1\n---\nb: 2\n---\n").line, 0);  // several documents
  EXPECT_EQ(find_yaml_parser_hazard("a: [1\n").line, 0);                 // a syntax error is the parser's to report
  // A block scalar ends where the indentation does; a comma after it is a hazard again.
  EXPECT_EQ(find_yaml_parser_hazard("a: |\n  text\n, b\n").line, 3);
}

}  // namespace
}  // namespace ktwin
