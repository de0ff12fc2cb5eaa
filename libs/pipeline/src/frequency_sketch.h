// FrequencySketch: approximately how often each key was used lately, in a fixed amount of memory.
//
// A count-min sketch (four rows of 8-bit saturating counters) whose counters are all halved
// after every `sample_size` additions, so old popularity fades. It remembers keys that are no
// longer cached, which is what lets the account cache keep a key that is used often but not
// recently over one that was used once, a moment ago (the TinyLFU idea).
//
// Rationale: engagement is skewed (a few accounts get most of it). With eviction by recency
// alone, the accounts touched once in the last commits push out accounts that come back every
// few seconds; each of those comes back as a RocksDB range scan and a parse.
//
// Thread-safety: a plain value, owned by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace baton::pipeline {

class FrequencySketch {
 public:
  // `expected_keys` is how many keys are tracked closely (the cache's bound); memory is 16 to
  // 32 bytes per expected key (four rows of four counters each, rounded up to a power of two).
  explicit FrequencySketch(size_t expected_keys);

  // Add counts one use of the key with this hash.
  void Add(uint64_t hash);
  // Estimate is the key's use count since about the last one or two halvings (never below the
  // truth, except where a counter saturated at 255 or was halved).
  uint32_t Estimate(uint64_t hash) const;

 private:
  static constexpr int kRows = 4;
  size_t Index(uint64_t hash, int row) const;
  void Halve();

  std::vector<uint8_t> counters_;  // kRows rows of width_ counters
  size_t width_ = 0;
  int shift_ = 0;
  uint64_t sample_size_ = 0;
  uint64_t additions_ = 0;
};

}  // namespace baton::pipeline
