// `ktwin report`: renders one run from the results database alone, as a self-contained HTML page
// (inline SVG charts, no scripts, no network), Markdown for pull-request comments, or JSON for tools.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace ktwin::reports {

class ResultsDb;
struct PlanCandidateRow;

enum class ReportFormat { kHtml, kMarkdown, kJson };

//! By extension: .md -> Markdown, .json -> JSON, anything else HTML.
ReportFormat report_format_for_path(const std::string& path);
//! Parses "html", "md"/"markdown" or "json"; throws InputError naming --format otherwise.
ReportFormat parse_report_format(const std::string& name);

//! Throws InputError when the run does not exist.
std::string render_report(const ResultsDb& db, int64_t run_id, ReportFormat format);

//! One plan candidate as JSON, the same in `ktwin plan --json` and a plan's JSON report.
nlohmann::json plan_candidate_json(const PlanCandidateRow& c);

}  // namespace ktwin::reports
