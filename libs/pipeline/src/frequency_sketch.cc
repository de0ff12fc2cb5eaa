#include "frequency_sketch.h"

#include <algorithm>
#include <bit>

namespace baton::pipeline {
namespace {

// Odd multipliers, one per row: each row takes a different slice of the hash's product.
constexpr uint64_t kRowSeeds[] = {0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL,
                                  0x165667B19E3779F9ULL, 0xD6E8FEB86659FD93ULL};

}  // namespace

FrequencySketch::FrequencySketch(size_t expected_keys) {
  // Four counters per expected key and row, a power of two; at least 64.
  width_ = std::bit_ceil(std::max<size_t>(64, expected_keys * 4));
  shift_ = 64 - std::countr_zero(width_);
  counters_.assign(width_ * kRows, 0);
  // Halving after 16 uses per expected key keeps roughly the last minute's popularity at the
  // service's rates; measured with the core benchmark's skewed workload (bench/README.md).
  sample_size_ = std::max<uint64_t>(1024, 16 * static_cast<uint64_t>(expected_keys));
}

size_t FrequencySketch::Index(uint64_t hash, int row) const {
  // Mix first, so that a hash weak in some bits still spreads over every row.
  hash ^= hash >> 33;
  hash *= 0xFF51AFD7ED558CCDULL;
  hash ^= hash >> 33;
  return static_cast<size_t>(row) * width_ + static_cast<size_t>((hash * kRowSeeds[row]) >> shift_);
}

void FrequencySketch::Add(uint64_t hash) {
  for (int row = 0; row < kRows; ++row) {
    uint8_t& counter = counters_[Index(hash, row)];
    if (counter < 255) ++counter;
  }
  if (++additions_ >= sample_size_) Halve();
}

uint32_t FrequencySketch::Estimate(uint64_t hash) const {
  uint32_t estimate = 255;
  for (int row = 0; row < kRows; ++row) {
    estimate = std::min<uint32_t>(estimate, counters_[Index(hash, row)]);
  }
  return estimate;
}

void FrequencySketch::Halve() {
  for (uint8_t& counter : counters_) counter >>= 1;
  additions_ = 0;
}

}  // namespace baton::pipeline
