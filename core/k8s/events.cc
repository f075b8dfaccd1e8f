#include "core/k8s/events.h"

#include <cstdio>

namespace ktwin {

void EventRecorder::record(const Object& involved, const std::string& type, const std::string& reason,
                           const std::string& message) {
  if (!enabled_) return;
  Object ev;
  ev.api_version = "v1";
  ev.kind = "Event";
  char suffix[24];
  // Deterministic suffix: Kubernetes uses a hex timestamp; a counter keeps names unique per recorder.
  std::snprintf(suffix, sizeof suffix, ".%016llx", static_cast<unsigned long long>(++counter_));
  ev.meta.name = involved.meta.name + suffix;
  ev.meta.namespace_ = involved.meta.namespace_.empty() ? "default" : involved.meta.namespace_;
  const std::string ts = format_rfc3339(clock_.now());
  ev.body = {{"involvedObject",
              {{"apiVersion", involved.api_version},
               {"kind", involved.kind},
               {"name", involved.meta.name},
               {"namespace", involved.meta.namespace_},
               {"uid", involved.meta.uid}}},
             {"type", type},
             {"reason", reason},
             {"message", message},
             {"source", {{"component", component_}}},
             {"firstTimestamp", ts},
             {"lastTimestamp", ts},
             {"count", 1}};
  (void)cluster_.create(std::move(ev));
}

}  // namespace ktwin
