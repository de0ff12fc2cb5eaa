#include "baton/pipeline/processor.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "baton/core/clock.h"
#include "baton/core/event.h"
#include "baton/core/testing/canonical_rules.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace baton::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::SizeIs;

const absl::Time kNow = absl::FromUnixSeconds(1795168800);  // 2026-11-20T10:00:00Z

class InMemoryStateStore : public StateStore {
 public:
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> LoadAccount(
      absl::string_view prefix) override {
    std::vector<std::pair<std::string, std::string>> found;
    for (auto it = accounts.lower_bound(std::string(prefix));
         it != accounts.end() && absl::string_view(it->first).substr(0, prefix.size()) == prefix;
         ++it) {
      found.emplace_back(it->first.substr(prefix.size()), it->second);
    }
    return found;
  }
  absl::StatusOr<std::optional<int64_t>> LoadOffset(const TopicPartition& tp) override {
    auto it = offsets.find(tp);
    if (it == offsets.end()) return std::nullopt;
    return it->second;
  }
  absl::Status Commit(const StateBatch& batch) override {
    if (fail_commits) return absl::UnavailableError("disk full");
    for (const auto& [key, value] : batch.writes) {
      if (value) {
        accounts[key] = *value;
      } else {
        accounts.erase(key);
      }
    }
    for (const auto& [tp, offset] : batch.offsets) offsets[tp] = offset;
    return absl::OkStatus();
  }
  std::map<std::string, std::string> accounts;
  Offsets offsets;
  bool fail_commits = false;
};

class RecordingSink : public OutputSink {
 public:
  absl::Status Publish(std::vector<OutboundRecord>& records) override {
    if (fail) return absl::UnavailableError("broker down");
    for (auto& r : records) published.push_back(r);
    return absl::OkStatus();
  }
  std::vector<std::string> Ids(OutboundRecord::Topic topic) const {
    std::vector<std::string> ids;
    for (const auto& r : published) {
      if (r.topic != topic) continue;
      for (const auto& h : r.headers) {
        if (h.key == "baton-output-id") ids.push_back(h.value);
      }
    }
    return ids;
  }
  std::vector<OutboundRecord> published;
  bool fail = false;
};

class CountingObserver : public Observer {
 public:
  void Committed(const CommitStats& stats, absl::Duration) override {
    for (const auto& [reason, n] : stats.deadlettered_by_reason) deadlettered[reason] += n;
    routed_leads += stats.routed_leads;
    duplicates += stats.duplicates;
  }
  void CommitFailed(absl::string_view stage) override { ++failures[std::string(stage)]; }
  void CachedAccounts(size_t) override {}
  std::map<std::string, int64_t> deadlettered;
  std::map<std::string, int64_t> failures;
  int64_t routed_leads = 0;
  int64_t duplicates = 0;
};

// A scenario: a Tier 1 account, a pricing visit and three opens by one contact, as JSON.
class ProcessorTest : public ::testing::Test {
 protected:
  ProcessorTest()
      : clock_(kNow),
        engine_(core::EngineOptions{}, core_testing::CanonicalRules(), clock_),
        processor_(MakeProcessor()) {}

  std::unique_ptr<Processor> MakeProcessor() {
    return std::make_unique<Processor>(ProcessorOptions{}, engine_, store_, observer_);
  }

  void Feed(absl::string_view topic, const std::string& json, std::string key = "acme") {
    InputRecord record;
    record.topic = topic;
    record.partition = 2;
    record.offset = next_offset_[std::string(topic)]++;
    record.key = key;
    record.value = json;
    record.headers = {{"content-type", "application/json"}};
    ASSERT_TRUE(processor_->Process(record).ok());
  }

  std::string Time(int minutes_ago) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", kNow - absl::Minutes(minutes_ago),
                            absl::UTCTimeZone());
  }

  void Account() {
    Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "crm-1", "event_time": ")", Time(600),
                                    R"(", "source": "crm", "account_upsert": {"account_id":
                                    "acme", "name": "Acme", "tier": "TIER_1", "owners":
                                    {"ae_id": "ae-1"}}})"));
  }
  void Engage(const std::string& id, const std::string& type, int minutes_ago,
              const std::string& url = "") {
    Feed("abm.engagement.v1",
         absl::StrCat(R"({"event_id": ")", id, R"(", "event_time": ")", Time(minutes_ago),
                      R"(", "source": "mkto", "account_id": "acme", "contact_id": "c-1",
                      "type": ")",
                      type, R"(", "url": ")", url, R"("})"));
  }
  void QualifyingEngagement() {
    Engage("p-1", "PAGE_VISIT", 50, "https://vendor.example/pricing");
    Engage("o-1", "EMAIL_OPEN", 40);
    Engage("o-2", "EMAIL_OPEN", 30);
    Engage("o-3", "EMAIL_OPEN", 20);
  }

  core::FakeClock clock_;
  core::Engine engine_;
  InMemoryStateStore store_;
  RecordingSink sink_;
  CountingObserver observer_;
  std::unique_ptr<Processor> processor_;
  std::map<std::string, int64_t> next_offset_;
};

TEST_F(ProcessorTest, AHandoffIsPublishedWithIdsAndKeyedByAccount) {
  Account();
  QualifyingEngagement();
  auto offsets = processor_->Commit(sink_);
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  ASSERT_THAT(sink_.published, SizeIs(2));
  const auto lead_ids = sink_.Ids(OutboundRecord::Topic::kRoutedLeads);
  ASSERT_THAT(lead_ids, SizeIs(1));
  EXPECT_THAT(sink_.Ids(OutboundRecord::Topic::kAlerts),
              ElementsAre("alert:handoff:" + lead_ids[0].substr(5)));
  for (const auto& r : sink_.published) EXPECT_EQ(r.key, "acme");
  baton::v1::RoutedLead lead;
  ASSERT_TRUE(lead.ParseFromString(sink_.published[0].value));
  EXPECT_EQ(lead.assignee_id(), "ae-1");
  EXPECT_EQ((*offsets)[(TopicPartition{"abm.engagement.v1", 2})], 4);
  EXPECT_EQ((*offsets)[(TopicPartition{"abm.crm.v1", 2})], 1);
  EXPECT_THAT(store_.offsets, ::testing::ContainerEq(*offsets));
  EXPECT_EQ(observer_.routed_leads, 1);
}

TEST_F(ProcessorTest, AMalformedRecordIsDeadLetteredAndItsNeighboursProcessed) {
  Account();
  Engage("p-1", "PAGE_VISIT", 50, "https://vendor.example/pricing");
  Engage("o-1", "EMAIL_OPEN", 40);
  Feed("abm.engagement.v1", R"({"event_id": "broken", )");
  Engage("o-2", "EMAIL_OPEN", 30);
  Engage("o-3", "EMAIL_OPEN", 20);
  ASSERT_TRUE(processor_->Commit(sink_).ok());

  std::vector<const OutboundRecord*> dead;
  for (const auto& r : sink_.published) {
    if (r.topic == OutboundRecord::Topic::kDeadLetter) dead.push_back(&r);
  }
  ASSERT_THAT(dead, SizeIs(1));
  EXPECT_EQ(dead[0]->value, R"({"event_id": "broken", )");
  std::map<std::string, std::string> headers;
  for (const auto& h : dead[0]->headers) headers[h.key] = h.value;
  EXPECT_EQ(headers["baton-error-code"], "bad_json");
  EXPECT_EQ(headers["baton-source-topic"], "abm.engagement.v1");
  EXPECT_EQ(headers["baton-source-partition"], "2");
  EXPECT_EQ(headers["baton-source-offset"], "2");
  EXPECT_EQ(headers["content-type"], "application/json");
  EXPECT_THAT(sink_.Ids(OutboundRecord::Topic::kRoutedLeads), SizeIs(1));
  EXPECT_EQ(observer_.deadlettered["bad_json"], 1);
  EXPECT_EQ(store_.offsets[(TopicPartition{"abm.engagement.v1", 2})], 5);
}

TEST_F(ProcessorTest, AFailedPublishCommitsNothingAndTheReplayGivesTheSameIds) {
  Account();
  QualifyingEngagement();
  sink_.fail = true;
  EXPECT_FALSE(processor_->Commit(sink_).ok());
  EXPECT_THAT(store_.offsets, IsEmpty());
  EXPECT_THAT(store_.accounts, IsEmpty());
  EXPECT_EQ(observer_.failures["publish"], 1);

  processor_->Rewind();
  sink_.fail = false;
  next_offset_.clear();
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_THAT(sink_.Ids(OutboundRecord::Topic::kRoutedLeads), SizeIs(1));
}

TEST_F(ProcessorTest, AFailedStoreCommitReplaysToTheSameOutputIds) {
  Account();
  QualifyingEngagement();
  store_.fail_commits = true;
  EXPECT_FALSE(processor_->Commit(sink_).ok());
  EXPECT_EQ(observer_.failures["store"], 1);
  const auto first = sink_.Ids(OutboundRecord::Topic::kRoutedLeads);
  ASSERT_THAT(first, SizeIs(1));

  processor_->Rewind();
  store_.fail_commits = false;
  next_offset_.clear();
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const auto both = sink_.Ids(OutboundRecord::Topic::kRoutedLeads);
  EXPECT_THAT(both, ElementsAre(first[0], first[0]));  // a recognisable duplicate, not a new one
}

TEST_F(ProcessorTest, StateSurvivesARestartAndDoesNotHandOffTwice) {
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  processor_ = MakeProcessor();  // a restarted process on the same store
  EXPECT_THAT(processor_->ResumeOffset(TopicPartition{"abm.engagement.v1", 2}).value(),
              Optional(4));
  Engage("o-4", "EMAIL_OPEN", 10);
  Engage("o-5", "EMAIL_OPEN", 5);
  Engage("o-3", "EMAIL_OPEN", 20);  // a re-delivery
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_THAT(sink_.Ids(OutboundRecord::Topic::kRoutedLeads), SizeIs(1));
  EXPECT_EQ(observer_.duplicates, 1);
}

TEST_F(ProcessorTest, AnUnknownContentTypeIsDeadLettered) {
  InputRecord record;
  record.topic = "abm.crm.v1";
  record.value = "<xml/>";
  record.headers = {{"content-type", "text/xml"}};
  ASSERT_TRUE(processor_->Process(record).ok());
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_EQ(observer_.deadlettered["unknown_content_type"], 1);
}

TEST(AccountKeyTest, PartitionPrefixIsBigEndianAndTheIdIsTerminated) {
  EXPECT_EQ(AccountKey(258, "a"), std::string("\0\0\1\2a\0", 6));
}

}  // namespace
}  // namespace baton::pipeline
