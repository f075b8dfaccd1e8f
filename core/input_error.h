// Bad user input (scenario files, manifests, flags): a typed exception carrying file:line:column and
// the field path, caught at the CLI and turned into one clear message and exit code 2.
#pragma once
#include <stdexcept>
#include <string>

namespace ktwin {

class InputError : public std::runtime_error {
 public:
  InputError(std::string file, int line, int column, std::string field, std::string message)
      : std::runtime_error(compose(file, line, column, field, message)),
        file_(std::move(file)),
        line_(line),
        column_(column),
        field_(std::move(field)),
        detail_(std::move(message)) {}

  const std::string& file() const { return file_; }
  int line() const { return line_; }      //!< 1-based; 0 when unknown
  int column() const { return column_; }  //!< 1-based; 0 when unknown
  const std::string& field() const { return field_; }
  const std::string& detail() const { return detail_; }

 private:
  static std::string compose(const std::string& file, int line, int column, const std::string& field,
                             const std::string& message) {
    std::string out = file.empty() ? std::string("<input>") : file;
    if (line > 0) {
      out += ":" + std::to_string(line);
      if (column > 0) out += ":" + std::to_string(column);
    }
    out += ": ";
    if (!field.empty()) out += field + ": ";
    out += message;
    return out;
  }

  std::string file_;
  int line_;
  int column_;
  std::string field_;
  std::string detail_;
};

}  // namespace ktwin
