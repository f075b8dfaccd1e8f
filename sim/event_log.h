// The run's event log: one line per transition, with simulated time on every line. Transitions of
// API objects are derived by watching the cluster (so the same recorder works in every world); model
// events (VM booted, image pulled...) come from the simulated actors. The fingerprint is the SHA-256
// of the log, so two runs are identical exactly when their fingerprints are.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/ports.h"

namespace ktwin::sim {

struct LogEntry {
  Duration t = 0;  //!< since the start of the run
  std::string kind;
  std::string name;
  std::string what;
};

class EventLog {
 public:
  explicit EventLog(Clock& clock, Time start) : clock_(clock), start_(start) {}
  void record(std::string kind, std::string name, std::string what);
  const std::vector<LogEntry>& entries() const { return entries_; }
  //! JSON lines: {"t_s":12.345,"kind":"Node","name":"...","what":"..."}
  std::string to_jsonl() const;
  static std::string entry_json(const LogEntry& e);
  std::string fingerprint() const;  //!< sha256 hex of to_jsonl()

 private:
  Clock& clock_;
  Time start_;
  std::vector<LogEntry> entries_;
};

//! What the recorder remembers per workspace for summaries and expectations.
struct WorkspaceHistory {
  std::optional<Duration> ready_at;  //!< first WorkspaceSucceeded=True
  int nodeclaims_created = 0;
  bool deleted = false;
};

//! Watches the cluster and logs the transitions people look at: creations, deletions, condition and
//! phase changes, readiness, scheduling.
class TransitionRecorder {
 public:
  TransitionRecorder(Cluster& cluster, EventLog& log, Clock& clock, Time start);
  void start();
  void stop();
  const std::map<std::string, WorkspaceHistory>& workspaces() const { return workspaces_; }  //!< key "ns/name"
  std::map<std::string, Duration> node_ready_times() const { return node_ready_; }

 private:
  void on_event(const WatchEvent& ev);

  Cluster& cluster_;
  EventLog& log_;
  Clock& clock_;
  Time start_;
  std::map<std::string, ObjectPtr> last_;  //!< kind/ns/name -> last seen
  std::map<std::string, WorkspaceHistory> workspaces_;
  std::map<std::string, Duration> node_ready_;
  std::vector<std::unique_ptr<WatchSubscription>> watches_;
};

//! "[  12m05.0s]"-style simulated time for console output.
std::string format_sim_time(Duration t);

}  // namespace ktwin::sim
