#include "frequency_sketch.h"

#include <cstdint>

#include "absl/hash/hash.h"
#include "gtest/gtest.h"

namespace baton::pipeline {
namespace {

uint64_t Key(int i) { return absl::HashOf(i); }

TEST(FrequencySketchTest, CountsUsesOfEachKey) {
  FrequencySketch sketch(1000);
  for (int n = 0; n < 5; ++n) sketch.Add(Key(1));
  sketch.Add(Key(2));
  EXPECT_EQ(sketch.Estimate(Key(1)), 5u);
  EXPECT_EQ(sketch.Estimate(Key(2)), 1u);
  EXPECT_EQ(sketch.Estimate(Key(3)), 0u);
}

TEST(FrequencySketchTest, NeverUnderestimatesAmongManyKeys) {
  FrequencySketch sketch(100);
  for (int i = 0; i < 300; ++i) {
    for (int n = 0; n <= i % 3; ++n) sketch.Add(Key(i));
  }
  for (int i = 0; i < 300; ++i)
    EXPECT_GE(sketch.Estimate(Key(i)), static_cast<uint32_t>(i % 3 + 1));
}

// Old popularity fades: after every sample (16 uses per expected key, at least 1,024) all
// counts halve, and a count saturates rather than wraps.
TEST(FrequencySketchTest, CountsHalveAfterEachSampleAndSaturate) {
  FrequencySketch sketch(8);
  for (int n = 0; n < 200; ++n) sketch.Add(Key(1));
  for (int n = 0; n < 823; ++n) sketch.Add(Key(2));
  EXPECT_EQ(sketch.Estimate(Key(1)), 200u);
  EXPECT_EQ(sketch.Estimate(Key(2)), 255u);
  sketch.Add(Key(2));  // the 1,024th use
  EXPECT_EQ(sketch.Estimate(Key(1)), 100u);
  EXPECT_EQ(sketch.Estimate(Key(2)), 127u);
}

}  // namespace
}  // namespace baton::pipeline
