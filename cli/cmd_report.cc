// `ktwin report`: renders a run recorded in the results database as HTML, Markdown or JSON.
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "core/input_error.h"
#include "reports/report.h"
#include "reports/results_db.h"

namespace ktwin::cli {
namespace {

int report(int argc, char** argv) {
  cxxopts::Options opts(argv[0], "Render a recorded run (ktwin run, test or plan) from the results database.");
  opts.add_options()("db", "results database", cxxopts::value<std::string>()->default_value(reports::kDefaultDbPath))(
      "run", "run id, or \"latest\"", cxxopts::value<std::string>()->default_value("latest"))(
      "format", "html, md or json (default: from -o's extension, else md on a terminal-less stdout)",
      cxxopts::value<std::string>())("o,output", "write to FILE instead of stdout", cxxopts::value<std::string>())(
      "h,help", "show this help");
  cxxopts::ParseResult args;
  if (auto done = parse_flags(opts, argc, argv, args, "0 rendered, 2 no such database or run.")) return *done;
  const std::string db_path = args["db"].as<std::string>();
  if (!std::filesystem::exists(db_path))
    throw InputError(db_path, 0, 0, "--db", "no results database here; `ktwin run` creates it");
  reports::ResultsDb db(db_path);
  int64_t id = 0;
  const std::string run = args["run"].as<std::string>();
  if (run == "latest") {
    const auto latest = db.latest_run();
    if (!latest) throw InputError(db_path, 0, 0, "--run", "the results database holds no runs yet");
    id = *latest;
  } else {
    try {
      size_t used = 0;
      id = std::stoll(run, &used);
      if (used != run.size() || id <= 0) throw std::invalid_argument(run);
    } catch (const std::logic_error&) {
      throw InputError("", 0, 0, "--run", "\"" + run + "\" is not a run id (a positive number or \"latest\")");
    }
  }
  const std::string out = args.count("output") ? args["output"].as<std::string>() : "";
  reports::ReportFormat format = args.count("format") ? reports::parse_report_format(args["format"].as<std::string>())
                                 : out.empty()        ? reports::ReportFormat::kMarkdown
                                                      : reports::report_format_for_path(out);
  const std::string text = reports::render_report(db, id, format);
  if (out.empty())
    std::cout << text;
  else
    write_file_atomically(out, text);
  return kExitOk;
}

}  // namespace

KTWIN_REGISTER_COMMAND(report, "report", "render a recorded run as HTML, Markdown or JSON", report);

}  // namespace ktwin::cli
