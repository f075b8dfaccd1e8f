// Names for the enums of the ports.
#include "core/ports.h"

namespace ktwin {

const char* watch_event_type_name(WatchEventType t) {
  switch (t) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

const char* instance_state_name(InstanceState s) {
  switch (s) {
    case InstanceState::kCreating:
      return "Creating";
    case InstanceState::kRunning:
      return "Succeeded";
    case InstanceState::kFailed:
      return "Failed";
    case InstanceState::kDeleting:
      return "Deleting";
  }
  return "Unknown";
}

}  // namespace ktwin
