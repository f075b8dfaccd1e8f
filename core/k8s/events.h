// Records Kubernetes Events (core/v1 Event objects) about other objects, as controllers do with
// record.EventRecorder, through the Cluster port. Failures to record are ignored, as in client-go.
#pragma once
#include <atomic>
#include <string>

#include "core/ports.h"

namespace ktwin {

class EventRecorder {
 public:
  EventRecorder(Cluster& cluster, Clock& clock, std::string component)
      : cluster_(cluster), clock_(clock), component_(std::move(component)) {}
  void normal(const Object& involved, const std::string& reason, const std::string& message) {
    record(involved, "Normal", reason, message);
  }
  void warning(const Object& involved, const std::string& reason, const std::string& message) {
    record(involved, "Warning", reason, message);
  }
  void record(const Object& involved, const std::string& type, const std::string& reason, const std::string& message);
  void set_enabled(bool on) { enabled_ = on; }

 private:
  Cluster& cluster_;
  Clock& clock_;
  std::string component_;
  std::atomic<uint64_t> counter_{0};
  bool enabled_ = true;
};

}  // namespace ktwin
