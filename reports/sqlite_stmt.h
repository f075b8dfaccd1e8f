// A prepared SQLite statement with RAII and typed bind/column helpers (reports/ internal). Written
// by hand: none of the Debian packages we may use wraps the SQLite C API.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ktwin::reports {

class Stmt {
 public:
  //! Throws std::runtime_error with SQLite's message when the SQL does not compile.
  Stmt(sqlite3* db, std::string_view sql);
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int index, int64_t v);
  Stmt& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  Stmt& bind(int index, bool v) { return bind(index, static_cast<int64_t>(v)); }
  Stmt& bind(int index, double v);
  Stmt& bind(int index, std::string_view v);
  Stmt& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
  Stmt& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }
  Stmt& bind(int index, std::optional<double> v);
  Stmt& bind_null(int index);

  //! True while a row is available; throws on error.
  bool step();
  //! Runs a statement that returns no rows, then resets it for the next bind.
  void run();
  void reset();

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<double> opt_real(int col) const { return is_null(col) ? std::nullopt : std::optional(real(col)); }
  std::string text(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace ktwin::reports
