#include "baton/core/ids.h"

#include "gtest/gtest.h"

namespace baton::core {
namespace {

TEST(IdsTest, HandoffIdIsStableAcrossProcesses) {
  // A fixed value: if the hash ever changes, ids written to Kafka before the change would no
  // longer match the ids of a replay after it.
  EXPECT_EQ(HandoffId("acme", "rule", "ev-1"), "ho-acme-" + std::string("cfba58ae5c420d5b"));
}

TEST(IdsTest, PartsAreSeparated) {
  EXPECT_NE(StableHash64({"ab", "c"}), StableHash64({"a", "bc"}));
}

TEST(IdsTest, AlertIdNamesKindCauseAndLevel) {
  EXPECT_EQ(AlertId("handoff", "ho-1"), "alert:handoff:ho-1");
  EXPECT_EQ(AlertId("escalation", "ho-1", 2), "alert:escalation:ho-1:2");
}

}  // namespace
}  // namespace baton::core
