// The discrete-event kernel: virtual integer time and a queue of events run in (time, seq) order,
// where seq is an insertion counter so that events posted for the same instant run first in, first
// out. Single-threaded; several kernels may live in one process (there is no global engine).
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "core/ports.h"
#include "core/time.h"

namespace ktwin::sim {

class Kernel;

//! Virtual time of one kernel, as the core's Clock port.
class SimClock final : public Clock {
 public:
  explicit SimClock(const Kernel& kernel) : kernel_(kernel) {}
  Time now() const override;

 private:
  const Kernel& kernel_;
};

//! Events on one kernel, as the core's Executor port: post() runs after everything already posted
//! for the current instant; post_after(d) runs at now + d, after earlier posts for that instant.
class SimExecutor final : public Executor {
 public:
  explicit SimExecutor(Kernel& kernel) : kernel_(kernel) {}
  void post(std::function<void()> task) override;
  void post_after(Duration delay, std::function<void()> task) override;

 private:
  Kernel& kernel_;
};

//! Identifies a posted event so it can be cancelled; valid until the event runs or is cancelled.
struct EventId {
  uint64_t seq = 0;  //!< 0: no event
  uint32_t slot = 0;
  explicit operator bool() const { return seq != 0; }
};

class Kernel {
 public:
  using Task = std::function<void()>;
  static constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

  explicit Kernel(Time start = kSimEpoch);
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  //! Orders events that share a time by a seeded pseudo-random permutation instead of posting order
  //! (0 turns it off). A correct model gives the same outcomes either way; only the log may differ.
  void shuffle_ties(uint64_t seed) { shuffle_seed_ = seed; }

  //! Current virtual time: the time of the running event, or where the last run stopped.
  Time now() const { return now_; }

  //! Posts `task` at absolute time `at`; `at` before now() is a programming error.
  EventId post_at(Time at, Task task);
  //! Posts at now() + delay; a negative delay is a programming error.
  EventId post_after(Duration delay, Task task) { return post_at(now_ + delay, std::move(task)); }
  //! Posts at now(), after everything already posted for now().
  EventId post(Task task) { return post_at(now_, std::move(task)); }
  //! Cancels a pending event; returns false when it already ran or was cancelled.
  bool cancel(EventId id);

  //! Runs the next event, if any; returns false when the queue is empty. Ignores the stop flag.
  bool step();
  //! Runs every event with time <= `until`, then sets now() to `until`, unless stop() was called,
  //! in which case now() stays at the last event run. Returns the number of events run.
  uint64_t run_until(Time until);
  //! Runs events until none are left, `limit` events have run, or stop() is called; now() stays at
  //! the last event run. Returns the number of events run.
  uint64_t run_until_idle(uint64_t limit = kNoLimit);

  //! Makes the current run_until/run_until_idle return after the running event. The flag is
  //! cleared when the next run starts.
  void stop() { stop_requested_ = true; }
  bool stop_requested() const { return stop_requested_; }

  uint64_t events_executed() const { return executed_; }
  uint64_t events_posted() const { return next_seq_ - 1; }
  uint64_t events_cancelled() const { return cancelled_; }
  //! Events posted and neither run nor cancelled.
  size_t pending() const { return live_; }
  //! Time of the next pending event, if any.
  std::optional<Time> next_event_time();

  SimClock& clock() { return clock_; }
  SimExecutor& executor() { return executor_; }

 private:
  // The heap holds 16-byte entries (four children of a node fill one or two cache lines); tasks
  // live in slots_ and are moved out once. key = seq << 24 | slot, so comparing keys compares seqs.
  static constexpr int kSlotBits = 24;
  static constexpr uint64_t kMaxSlots = uint64_t{1} << kSlotBits;       //!< events pending at once
  static constexpr uint64_t kMaxSeq = uint64_t{1} << (64 - kSlotBits);  //!< events posted per kernel
  struct Entry {
    Time time;
    uint64_t key;
    uint64_t seq() const { return key >> kSlotBits; }
    uint32_t slot() const { return static_cast<uint32_t>(key & (kMaxSlots - 1)); }
  };
  struct Slot {
    Task task;
    uint64_t seq = 0;  //!< seq of the event that owns the slot; 0 when free or cancelled
  };

  static bool earlier(const Entry& a, const Entry& b) { return a.time < b.time || (a.time == b.time && a.key < b.key); }
  void heap_push(Entry e);
  Entry heap_pop();
  void drop_cancelled_top();
  void free_slot(uint32_t slot);
  void run_top();

  Time now_;
  uint64_t next_seq_ = 1;
  uint64_t shuffle_seed_ = 0;
  uint64_t executed_ = 0;
  uint64_t cancelled_ = 0;
  size_t live_ = 0;
  bool stop_requested_ = false;
  std::vector<Entry> heap_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  SimClock clock_;
  SimExecutor executor_;
};

}  // namespace ktwin::sim
