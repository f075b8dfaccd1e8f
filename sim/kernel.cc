// The discrete-event kernel: a 4-ary min-heap of 16-byte (time, seq|slot) entries with the tasks
// kept in a slot table, so sifting moves small trivially-copyable values, not std::function objects.
#include "sim/kernel.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace ktwin::sim {

namespace {
// Always on, even with NDEBUG: a past event would silently reorder history and break determinism.
[[noreturn]] void fail(const char* what, Time at, Time now) {
  std::fprintf(stderr, "ktwin kernel: %s (event at %lld ns, now %lld ns)\n", what, static_cast<long long>(at),
               static_cast<long long>(now));
  std::abort();
}
}  // namespace

Time SimClock::now() const { return kernel_.now(); }

void SimExecutor::post(std::function<void()> task) { kernel_.post(std::move(task)); }

void SimExecutor::post_after(Duration delay, std::function<void()> task) { kernel_.post_after(delay, std::move(task)); }

Kernel::Kernel(Time start) : now_(start), clock_(*this), executor_(*this) {}

EventId Kernel::post_at(Time at, Task task) {
  if (at < now_) fail("event posted in the past", at, now_);
  if (!task) fail("empty task posted", at, now_);
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (slots_.size() >= kMaxSlots) fail("more than 2^24 events pending", at, now_);
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  if (next_seq_ >= kMaxSeq) fail("more than 2^40 events posted on one kernel", at, now_);
  uint64_t seq = next_seq_++;
  if (shuffle_seed_ != 0) {
    // A bijection of the 40-bit sequence space (odd multiplier, xor, odd multiplier): a unique key
    // per event whose order among same-time events is scrambled by the seed.
    constexpr uint64_t kMask = kMaxSeq - 1;
    uint64_t x = (seq * 0x9E3779B97F4A7C15ULL) & kMask;
    x ^= (shuffle_seed_ & kMask) ^ (x >> 17);
    x = (x * 0xBF58476D1CE4E5B9ULL) & kMask;
    seq = x == 0 ? kMask : x;  // 0 means "no event"
  }
  slots_[slot].task = std::move(task);
  slots_[slot].seq = seq;
  heap_push(Entry{at, seq << kSlotBits | slot});
  ++live_;
  return EventId{seq, slot};
}

bool Kernel::cancel(EventId id) {
  if (!id || id.slot >= slots_.size() || slots_[id.slot].seq != id.seq) return false;
  // The heap entry stays until it reaches the top; the slot is freed then, so it cannot be reused
  // by another event while a stale entry still points at it.
  slots_[id.slot].seq = 0;
  slots_[id.slot].task = nullptr;
  --live_;
  ++cancelled_;
  return true;
}

// A 4-ary heap: half the depth of a binary heap, and the four children of a node share one or two
// cache lines, which matters once the queue outgrows the cache (pop dominates the cost).
void Kernel::heap_push(Entry e) {
  size_t hole = heap_.size();
  heap_.push_back(e);
  while (hole > 0) {
    size_t parent = (hole - 1) / 4;
    if (!earlier(e, heap_[parent])) break;
    heap_[hole] = heap_[parent];
    hole = parent;
  }
  heap_[hole] = e;
}

Kernel::Entry Kernel::heap_pop() {
  Entry top = heap_.front();
  Entry last = heap_.back();
  heap_.pop_back();
  const size_t n = heap_.size();
  if (n == 0) return top;
  size_t hole = 0;
  while (true) {
    size_t first = 4 * hole + 1;
    if (first >= n) break;
    size_t best = first;
    size_t end = first + 4 < n ? first + 4 : n;
    for (size_t c = first + 1; c < end; ++c)
      if (earlier(heap_[c], heap_[best])) best = c;
    if (!earlier(heap_[best], last)) break;
    heap_[hole] = heap_[best];
    hole = best;
  }
  heap_[hole] = last;
  return top;
}

void Kernel::free_slot(uint32_t slot) { free_slots_.push_back(slot); }

void Kernel::drop_cancelled_top() {
  while (!heap_.empty() && slots_[heap_.front().slot()].seq != heap_.front().seq()) free_slot(heap_pop().slot());
}

std::optional<Time> Kernel::next_event_time() {
  drop_cancelled_top();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().time;
}

void Kernel::run_top() {
  Entry e = heap_pop();
  Slot& s = slots_[e.slot()];
  // Move the task out before running it: it may post events, which can grow slots_.
  Task task = std::move(s.task);
  s.task = nullptr;
  s.seq = 0;
  free_slot(e.slot());
  --live_;
  ++executed_;
  now_ = e.time;
  task();
}

bool Kernel::step() {
  drop_cancelled_top();
  if (heap_.empty()) return false;
  run_top();
  return true;
}

uint64_t Kernel::run_until(Time until) {
  if (until < now_) fail("run_until a time in the past", until, now_);
  stop_requested_ = false;
  uint64_t before = executed_;
  while (!stop_requested_) {
    drop_cancelled_top();
    if (heap_.empty() || heap_.front().time > until) {
      now_ = until;
      break;
    }
    run_top();
  }
  return executed_ - before;
}

uint64_t Kernel::run_until_idle(uint64_t limit) {
  stop_requested_ = false;
  uint64_t before = executed_;
  while (!stop_requested_ && executed_ - before < limit) {
    drop_cancelled_top();
    if (heap_.empty()) break;
    run_top();
  }
  return executed_ - before;
}

}  // namespace ktwin::sim
