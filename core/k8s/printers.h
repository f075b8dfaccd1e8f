// kubectl-style tables of objects: the printer columns of each kind (the Workspace CRD's columns
// per API version), kubectl's column alignment and its "age" format.
#pragma once
#include <string>
#include <vector>

#include "core/object.h"

namespace ktwin {

//! kubectl's duration.HumanDuration: "45s", "5m30s", "25m", "2h5m", "3d4h".
std::string human_duration(Duration d);

//! Columns left-aligned, separated by three spaces, as kubectl prints them.
std::string format_table(const std::vector<std::vector<std::string>>& rows);

//! The printer columns of a kind and one row of cells per object (no NAMESPACE column): what
//! print_objects lays out, and what a server returns as a meta.k8s.io Table.
struct PrintedTable {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
};
PrintedTable table_of(const std::string& kind, const std::vector<ObjectPtr>& objects, Time now,
                      const std::string& workspace_api_version = "kaito.sh/v1beta1");

//! `kubectl get <kind>` for a list of objects of one kind, ages relative to `now`. Workspaces use the
//! printer columns of `workspace_api_version` (v1alpha1 lacks TargetNodeCount and State).
std::string print_objects(const std::string& kind, const std::vector<ObjectPtr>& objects, Time now,
                          const std::string& workspace_api_version = "kaito.sh/v1beta1");

}  // namespace ktwin
