// Clock: the only way Baton's core learns the time.
//
// The core never reads the system clock; it is handed a Clock. The service injects SystemClock,
// tests inject FakeClock and move time by hand, so every test is hermetic and every run is
// replayable.
//
// Thread-safety: SystemClock is thread-safe. FakeClock is not; a test owns it.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace baton::core {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// SystemClock reads the wall clock.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// FakeClock stands still until a test moves it.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }
  void Set(absl::Time t) { now_ = t; }

 private:
  absl::Time now_;
};

}  // namespace baton::core
