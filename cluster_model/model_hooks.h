// How the simulated actors draw modelled durations and report what they do, without depending on
// the simulator's RNG or event log: the runner injects both.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "core/time.h"

namespace ktwin::cluster_model {

//! Draws a duration for a modelled phase ("vm_create", "image_pull", ...) of a given subject
//! (usually the instance type); deterministic under the simulator.
using DurationSampler = std::function<Duration(std::string_view phase, std::string_view subject)>;

//! Records a model-level event (not an API object change): kind, object name, what happened.
using ModelEventSink = std::function<void(std::string_view kind, std::string_view name, const std::string& what)>;

}  // namespace ktwin::cluster_model
