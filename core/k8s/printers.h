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

//! `kubectl get <kind>` for a list of objects of one kind, ages relative to `now`. Workspaces use the
//! printer columns of `workspace_api_version` (v1alpha1 lacks TargetNodeCount and State).
std::string print_objects(const std::string& kind, const std::vector<ObjectPtr>& objects, Time now,
                          const std::string& workspace_api_version = "kaito.sh/v1beta1");

}  // namespace ktwin
