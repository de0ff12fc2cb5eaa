#include "baton/pipeline/processor.h"

#include <limits>
#include <set>
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
using ::testing::Not;
using ::testing::Optional;
using ::testing::SizeIs;

const absl::Time kNow = absl::FromUnixSeconds(1795168800);  // 2026-11-20T10:00:00Z

class InMemoryStateStore : public StateStore {
 public:
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    auto it = accounts.find(std::string(key));
    if (it == accounts.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(
      absl::string_view prefix) override {
    std::vector<std::pair<std::string, std::string>> found;
    ++scans;
    for (auto it = accounts.lower_bound(std::string(prefix));
         it != accounts.end() && absl::string_view(it->first).substr(0, prefix.size()) == prefix;
         ++it) {
      found.emplace_back(it->first.substr(prefix.size()), it->second);
    }
    return found;
  }
  int scans = 0;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanRange(
      absl::string_view from, absl::string_view to, size_t limit) override {
    std::vector<std::pair<std::string, std::string>> found;
    for (auto it = accounts.lower_bound(std::string(from));
         it != accounts.end() && it->first < to && found.size() < limit; ++it) {
      found.emplace_back(it->first, it->second);
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

// RecordingSink keeps the outputs in `published` and the state changelog, per partition, in
// `changelog`, as a broker would (a record's offset is its index).
class RecordingSink : public OutputSink {
 public:
  absl::StatusOr<ChangelogPositions> Publish(std::vector<OutboundRecord>& outputs,
                                             absl::Span<const ChangelogEntry> entries,
                                             const Offsets&) override {
    if (fail) return absl::UnavailableError("broker down");
    published.insert(published.end(), outputs.begin(), outputs.end());
    ChangelogPositions positions;
    for (const ChangelogEntry& e : entries) {
      EXPECT_GE(e.partition, 0);
      auto& log = changelog[e.partition];
      log.push_back(
          {std::string(e.key), e.value ? std::optional<std::string>(*e.value) : std::nullopt});
      positions[e.partition] = static_cast<int64_t>(log.size());
    }
    return positions;
  }
  // Tail is the changelog of a partition from `from` on.
  std::vector<ChangelogRecord> Tail(int32_t partition, int64_t from) {
    const auto& log = changelog[partition];
    return {log.begin() + std::min<int64_t>(from, static_cast<int64_t>(log.size())), log.end()};
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
  std::map<int32_t, std::vector<ChangelogRecord>> changelog;
  bool fail = false;
};

class CountingObserver : public Observer {
 public:
  void Committed(const CommitStats& stats, absl::Duration) override {
    for (const auto& [reason, n] : stats.deadlettered_by_reason) deadlettered[reason] += n;
    routed_leads += stats.routed_leads;
    duplicates += stats.duplicates;
    for (const auto& [method, n] : stats.matched_by_method) matched[method] += n;
    unmatched += stats.unmatched;
    account_loads += stats.account_loads;
  }
  void CommitFailed(absl::string_view stage) override { ++failures[std::string(stage)]; }
  void CachedAccounts(size_t count) override { cached = count; }
  size_t cached = 0;
  std::map<std::string, int64_t> deadlettered;
  std::map<std::string, int64_t> failures;
  int64_t routed_leads = 0;
  int64_t duplicates = 0;
  std::map<std::string, int64_t> matched;
  int64_t unmatched = 0;
  int64_t account_loads = 0;
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
    Feed(topic, json, key, {{"content-type", "application/json"}});
  }
  void Feed(absl::string_view topic, const std::string& json, std::string key,
            std::vector<HeaderView> headers) {
    InputRecord record;
    record.topic = topic;
    record.partition = 2;
    record.offset = next_offset_[std::string(topic)]++;
    record.key = key;
    record.value = json;
    record.headers = std::move(headers);
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
  for (const auto& [tp, offset] : *offsets) EXPECT_EQ(store_.offsets[tp], offset);
  // The input offsets and the changelog position the store reflects.
  EXPECT_THAT(store_.offsets, SizeIs(3));
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

// EarlySink takes outputs as they are made, like the at-least-once Kafka sink.
class EarlySink : public RecordingSink {
 public:
  bool SendsEarly() const override { return true; }
  absl::Status Send(std::vector<OutboundRecord>& records) override {
    sent.insert(sent.end(), records.begin(), records.end());
    records.clear();
    return absl::OkStatus();
  }
  absl::StatusOr<ChangelogPositions> Publish(std::vector<OutboundRecord>& outputs,
                                             absl::Span<const ChangelogEntry> entries,
                                             const Offsets& offsets) override {
    ++publishes;
    return RecordingSink::Publish(outputs, entries, offsets);
  }
  std::vector<OutboundRecord> sent;
  int publishes = 0;
};

TEST_F(ProcessorTest, ASinkThatSendsEarlyGetsTheLeadBeforeTheUnitCommits) {
  EarlySink sink;
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->SendOutputs(sink).ok());
  ASSERT_THAT(sink.sent, SizeIs(2));  // the lead and its handoff alert
  EXPECT_EQ(sink.sent[0].topic, OutboundRecord::Topic::kRoutedLeads);
  EXPECT_THAT(store_.accounts, IsEmpty());  // nothing committed yet
  EXPECT_TRUE(processor_->SendOutputs(sink).ok());
  EXPECT_THAT(sink.sent, SizeIs(2));  // sent once

  ASSERT_TRUE(processor_->Commit(sink).ok());
  EXPECT_EQ(sink.publishes, 1);
  EXPECT_THAT(sink.published, IsEmpty());  // Publish got the changelog only
  EXPECT_THAT(sink.changelog[2], Not(IsEmpty()));
  EXPECT_THAT(store_.accounts, Not(IsEmpty()));
  EXPECT_EQ(observer_.routed_leads, 1);
}

TEST_F(ProcessorTest, AUnitWhoseOnlyOutputsWereSentEarlyStillPublishesAndMayFail) {
  EarlySink sink;
  Account();
  ASSERT_TRUE(processor_->Commit(sink).ok());
  const int before = sink.publishes;
  QualifyingEngagement();
  ASSERT_TRUE(processor_->SendOutputs(sink).ok());
  // The sink must wait for what was sent early: a failure there fails the unit.
  sink.fail = true;
  EXPECT_FALSE(processor_->Commit(sink).ok());
  EXPECT_EQ(sink.publishes, before + 1);
  EXPECT_EQ(observer_.failures["publish"], 1);

  processor_->Rewind();
  sink.fail = false;
  next_offset_["abm.engagement.v1"] = 0;
  QualifyingEngagement();
  ASSERT_TRUE(processor_->SendOutputs(sink).ok());
  ASSERT_TRUE(processor_->Commit(sink).ok());
  // Sent again on the retry, with the same ids.
  ASSERT_THAT(sink.sent, SizeIs(4));
  EXPECT_EQ(sink.sent[0].value, sink.sent[2].value);
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

TEST_F(ProcessorTest, TheChangelogRebuildsTheStoreOnAnInstanceWithNone) {
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  Engage("o-4", "EMAIL_OPEN", 10);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  ASSERT_THAT(sink_.changelog, SizeIs(1));  // every record of partition 2's accounts
  EXPECT_THAT(store_.offsets[(TopicPartition{"abm.baton-changelog.v1", 2})],
              static_cast<int64_t>(sink_.changelog[2].size()));

  InMemoryStateStore fresh;
  Processor restored(ProcessorOptions{}, engine_, fresh, observer_);
  EXPECT_EQ(*restored.ChangelogPosition(2), std::nullopt);
  ASSERT_TRUE(restored.RestoreChangelog(2, sink_.Tail(2, 0), 2'000).ok());
  EXPECT_THAT(fresh.accounts, ::testing::ContainerEq(store_.accounts));
  EXPECT_EQ(fresh.offsets[(TopicPartition{"abm.engagement.v1", 2})], 5);
  EXPECT_EQ(fresh.offsets[(TopicPartition{"abm.crm.v1", 2})], 1);
  EXPECT_THAT(*restored.ChangelogPosition(2), Optional(2'000));
}

TEST_F(ProcessorTest, ACrashAfterPublishingIsCaughtUpFromTheChangelogTailNotReplayed) {
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const auto checkpoint = store_.accounts;
  // The next unit is published (its transaction committed), then the process dies before the
  // local store is written.
  Engage("o-4", "EMAIL_OPEN", 10);
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "crm-2", "event_time": ")", Time(5),
                                  R"(", "source": "crm", "account_upsert": {"account_id":
                                  "acme", "name": "Acme", "tier": "TIER_2", "owners":
                                  {"ae_id": "ae-2"}}})"));
  store_.fail_commits = true;
  EXPECT_FALSE(processor_->Commit(sink_).ok());
  store_.fail_commits = false;
  EXPECT_EQ(store_.accounts, checkpoint);
  EXPECT_EQ(store_.offsets[(TopicPartition{"abm.engagement.v1", 2})], 4);

  processor_ = MakeProcessor();
  const int64_t from = processor_->ChangelogPosition(2)->value();
  ASSERT_TRUE(processor_->RestoreChangelog(2, sink_.Tail(2, from), from + 7).ok());
  EXPECT_NE(store_.accounts, checkpoint);
  EXPECT_THAT(*processor_->ResumeOffset({"abm.engagement.v1", 2}), Optional(5));
  EXPECT_THAT(*processor_->ResumeOffset({"abm.crm.v1", 2}), Optional(2));
  baton::internal::v1::AccountHead head;
  ASSERT_TRUE(head.ParseFromString(store_.accounts.at(AccountKey(2, "acme") + "p")));
  EXPECT_EQ(head.profile().tier(), baton::v1::TIER_2);  // the CRM part of the head
}

TEST_F(ProcessorTest, AHeadStoredWithItsCrmPartInsideRoutesByItAndIsStoredSplit) {
  Account();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  // The layout of an earlier Baton: the profile inside the head, no CRM record.
  const std::string key = AccountKey(2, "acme");
  baton::internal::v1::AccountHead whole;
  ASSERT_TRUE(whole.ParseFromString(store_.accounts.at(key + "h")));
  ASSERT_FALSE(whole.has_profile());
  ASSERT_TRUE(whole.MergeFromString(store_.accounts.at(key + "p")));
  store_.accounts[key + "h"] = whole.SerializeAsString();
  store_.accounts.erase(key + "p");

  processor_ = MakeProcessor();  // a newer Baton on the older data directory
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  ASSERT_THAT(sink_.Ids(OutboundRecord::Topic::kRoutedLeads), SizeIs(1));
  baton::v1::RoutedLead lead;
  ASSERT_TRUE(lead.ParseFromString(sink_.published[0].value));
  EXPECT_EQ(lead.assignee_id(), "ae-1");  // the owner from the profile in the head
  baton::internal::v1::AccountHead head, crm;
  ASSERT_TRUE(head.ParseFromString(store_.accounts.at(key + "h")));
  ASSERT_TRUE(crm.ParseFromString(store_.accounts.at(key + "p")));
  EXPECT_FALSE(head.has_profile());
  EXPECT_THAT(head.crm_seen(), IsEmpty());
  EXPECT_EQ(crm.profile().owners().ae_id(), "ae-1");
  EXPECT_THAT(crm.crm_seen(), SizeIs(1));
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

// An account read back from the store parses its contacts only when something needs them; the
// lead still names its contact's title and role.
TEST_F(ProcessorTest, ALeadAfterARestartNamesTheContactStoredBeforeIt) {
  Account();
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "crm-c", "event_time": ")", Time(590),
                                  R"(", "source": "crm", "contact_upsert": {"contact_id": "c-1",
                                  "account_id": "acme", "title": "VP Finance",
                                  "role": "DECISION_MAKER"}})"));
  Engage("p-1", "PAGE_VISIT", 50, "https://vendor.example/pricing");
  Engage("o-1", "EMAIL_OPEN", 40);
  Engage("o-2", "EMAIL_OPEN", 30);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  processor_ = MakeProcessor();
  Engage("o-3", "EMAIL_OPEN", 20);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  ASSERT_THAT(sink_.Ids(OutboundRecord::Topic::kRoutedLeads), SizeIs(1));
  baton::v1::RoutedLead lead;
  for (const auto& r : sink_.published) {
    if (r.topic == OutboundRecord::Topic::kRoutedLeads) {
      ASSERT_TRUE(lead.ParseFromString(r.value));
    }
  }
  EXPECT_EQ(lead.contact().contact_id(), "c-1");
  EXPECT_EQ(lead.contact().title(), "VP Finance");
  EXPECT_EQ(lead.contact().role(), baton::v1::DECISION_MAKER);
}

// Stored contacts that do not parse stop processing when an event needs them, as any corrupt
// stored record does, and are never overwritten.
TEST_F(ProcessorTest, StoredContactsThatDoNotParseStopTheEventThatReadsThem) {
  Account();
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "crm-c", "event_time": ")", Time(590),
                                  R"(", "source": "crm", "contact_upsert": {"contact_id": "c-1",
                                  "account_id": "acme", "title": "VP Finance"}})"));
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const std::string contacts_key = AccountKey(2, "acme") + "c";
  ASSERT_TRUE(store_.accounts.contains(contacts_key));
  const std::string corrupt(
      "\x1a\x05"
      "ab",
      4);
  store_.accounts[contacts_key] = corrupt;
  processor_ = MakeProcessor();
  Engage("o-1", "EMAIL_OPEN", 40);  // needs no contacts
  InputRecord upsert;
  upsert.topic = "abm.crm.v1";
  upsert.partition = 2;
  upsert.offset = next_offset_["abm.crm.v1"]++;
  upsert.key = "acme";
  const std::string value = absl::StrCat(R"({"event_id": "crm-d", "event_time": ")", Time(30),
                                         R"(", "source": "crm", "contact_upsert":
                                         {"contact_id": "c-2", "account_id": "acme"}})");
  upsert.value = value;
  upsert.headers = {{"content-type", "application/json"}};
  const absl::Status s = processor_->Process(upsert);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("contacts do not parse"));
  processor_->Rewind();
  EXPECT_EQ(store_.accounts[contacts_key], corrupt);
}

// An evicted account is kept serialized and read back without the store, whole; a changelog
// restore or a rewind forgets the serialized accounts, and so does a full budget, oldest first.
class SerializedAccountsTest : public ProcessorTest {
 protected:
  // EvictAcme leaves acme (a profile, a pricing visit and two opens) evicted from the cache.
  void EvictAcme(size_t serialized_cache_bytes) {
    ProcessorOptions small;
    small.max_cached_accounts = 4;
    small.serialized_cache_bytes = serialized_cache_bytes;
    processor_ = std::make_unique<Processor>(small, engine_, store_, observer_);
    Account();
    Engage("p-1", "PAGE_VISIT", 50, "https://vendor.example/pricing");
    Engage("o-1", "EMAIL_OPEN", 40);
    Engage("o-2", "EMAIL_OPEN", 30);
    ASSERT_TRUE(processor_->Commit(sink_).ok());
    PushOut();
  }
  // PushOut runs accounts used more often than acme through the cache, so acme leaves it.
  void PushOut() {
    for (int i = 0; i < 20; ++i) {
      for (int n = 0; n < 6; ++n) {
        Feed("abm.crm.v1",
             absl::StrCat(R"({"event_id": "other-)", i, "-", n, R"(", "event_time": ")",
                          Time(500 - n), R"(", "source": "crm", "account_upsert":
                          {"account_id": "other-)",
                          i, R"(", "name": "Other", "tier": "TIER_2"}})"),
             absl::StrCat("other-", i));
      }
      ASSERT_TRUE(processor_->Commit(sink_).ok());
    }
    ASSERT_LE(observer_.cached, 4u);
  }
  // ThirdOpen completes the rule, which needs all of acme's state back; returns the store reads.
  int64_t ThirdOpen() {
    const int64_t loads = observer_.account_loads;
    Engage("o-3", "EMAIL_OPEN", 10);
    EXPECT_TRUE(processor_->Commit(sink_).ok());
    EXPECT_THAT(sink_.Ids(OutboundRecord::Topic::kRoutedLeads), SizeIs(1));
    return observer_.account_loads - loads;
  }
};

TEST_F(SerializedAccountsTest, AnEvictedAccountComesBackFromTheStoreWithItsEngagement) {
  EvictAcme(0);
  EXPECT_EQ(ThirdOpen(), 1);
}

TEST_F(SerializedAccountsTest, AnEvictedAccountIsReadBackWithoutTheStore) {
  EvictAcme(1 << 20);
  EXPECT_EQ(ThirdOpen(), 0);
}

TEST_F(SerializedAccountsTest, AChangelogRestoreForgetsThePartitionsSerializedAccounts) {
  EvictAcme(1 << 20);
  ASSERT_TRUE(processor_->RestoreChangelog(2, {}, 0).ok());
  EXPECT_EQ(ThirdOpen(), 1);
}

TEST_F(SerializedAccountsTest, ARewindForgetsTheSerializedAccounts) {
  EvictAcme(1 << 20);
  processor_->Rewind();
  EXPECT_EQ(ThirdOpen(), 1);
}

TEST_F(SerializedAccountsTest, OverTheBudgetTheOldestEvictedAreDropped) {
  EvictAcme(2'000);  // about three small accounts
  EXPECT_EQ(ThirdOpen(), 1);
}

// Eviction keeps an account that keeps coming back over accounts used once since: with
// skewed engagement, those are the accounts whose reload would cost the most often.
TEST_F(ProcessorTest, AnOftenUsedAccountStaysCachedWhileAccountsUsedOncePassThrough) {
  ProcessorOptions small;
  small.max_cached_accounts = 10;
  small.serialized_cache_bytes = 0;
  processor_ = std::make_unique<Processor>(small, engine_, store_, observer_);
  auto upsert = [&](const std::string& account, int n) {
    Feed("abm.crm.v1",
         absl::StrCat(R"({"event_id": "up-)", account, "-", n, R"(", "event_time": ")",
                      Time(500 - n), R"(", "source": "crm", "account_upsert": {"account_id": ")",
                      account, R"(", "name": "Account", "tier": "TIER_2"}})"),
         account);
    ASSERT_TRUE(processor_->Commit(sink_).ok());
  };
  for (int n = 0; n < 6; ++n) upsert("often", n);
  EXPECT_EQ(observer_.account_loads, 1);
  for (int i = 0; i < 30; ++i) upsert(absl::StrCat("once-", i), 0);
  EXPECT_LE(observer_.cached, 10u);
  EXPECT_EQ(observer_.account_loads, 31);
  upsert("often", 6);
  EXPECT_EQ(observer_.account_loads, 31) << "the often used account was evicted";
  upsert("once-0", 1);
  EXPECT_EQ(observer_.account_loads, 32);
}

// Accounts chosen for eviction leave a few per record and per commit, not all at one commit
// (which stalled every record waiting behind it), and one used again after it was chosen stays:
// it may have changed in a unit that has not landed yet.
class SpreadEvictionTest : public ProcessorTest {
 protected:
  void SetUp() override {
    ProcessorOptions options;
    options.max_cached_accounts = 1000;
    options.serialized_cache_bytes = 0;  // an evicted account comes back from the store only
    processor_ = std::make_unique<Processor>(options, engine_, store_, observer_);
  }
  void Open(const std::string& account, const std::string& id) {
    Feed("abm.engagement.v1",
         absl::StrCat(R"({"event_id": ")", id, R"(", "event_time": ")", Time(30),
                      R"(", "source": "mkto", "account_id": ")", account,
                      R"(", "contact_id": "c-1", "type": "EMAIL_OPEN"})"),
         account);
  }
  // Unit 1 brings 1,200 accounts in: 800 used three times ("keep-"), 400 once ("go-"). Its
  // commit chooses 350 of the "go-" accounts (down to 85% of the bound) and evicts the 200 over
  // the bound; the other 150 chosen are left to the records that follow.
  void OverTheBound() {
    for (int i = 0; i < 800; ++i) {
      for (int n = 0; n < 3; ++n) Open(absl::StrCat("keep-", i), absl::StrCat("k-", i, "-", n));
    }
    for (int i = 0; i < 400; ++i) Open(absl::StrCat("go-", i), absl::StrCat("g-", i));
    ASSERT_TRUE(processor_->Commit(sink_).ok());
    ASSERT_EQ(observer_.cached, 1000u);
  }
};

TEST_F(SpreadEvictionTest, TheChosenLeaveAFewPerRecord) {
  OverTheBound();
  // 100 records of cached accounts, two evictions before each: the 150 chosen are gone.
  for (int n = 0; n < 100; ++n) Open(absl::StrCat("keep-", n), absl::StrCat("k2-", n));
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_EQ(observer_.cached, 850u);
  EXPECT_EQ(observer_.account_loads, 1200) << "an often used account was evicted";
}

TEST_F(SpreadEvictionTest, AnAccountUsedAfterItWasChosenIsNotEvictedWhileItsUnitLands) {
  OverTheBound();
  // Unit 2 engages 40 "go-" accounts; some were evicted before their record comes (and are read
  // back), some are used while still chosen.
  for (int i = 0; i < 40; ++i) Open(absl::StrCat("go-", i), absl::StrCat("g2-", i));
  SealedUnit landing = processor_->Seal();
  // While unit 2 lands, unit 3's records evict the rest of the chosen, then repeat unit 2's
  // events: each is a duplicate only if its account still holds what unit 2 did to it.
  for (int n = 0; n < 100; ++n) Open(absl::StrCat("keep-", n), absl::StrCat("k3-", n));
  for (int i = 0; i < 40; ++i) Open(absl::StrCat("go-", i), absl::StrCat("g2-", i));
  ASSERT_TRUE(processor_->Land(landing, sink_).ok());
  ASSERT_TRUE(processor_->Finish(landing, absl::OkStatus()).ok());
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_EQ(observer_.duplicates, 40);
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

// Every kind of hostile input is dead-lettered with its reason, and the partition goes on: the
// qualifying engagement around them still hands off.
TEST_F(ProcessorTest, HostileInputIsDeadLetteredWithItsReasonAndNothingStops) {
  baton::v1::EngagementEvent open;
  open.set_event_id("pb-1");
  open.mutable_event_time()->set_seconds(absl::ToUnixSeconds(kNow - absl::Minutes(45)));
  open.set_source("mkto");
  open.set_account_id("acme");
  open.set_contact_id("c-1");
  open.set_type(baton::v1::EMAIL_OPEN);
  auto with = [&](auto change) {
    baton::v1::EngagementEvent e = open;
    change(e);
    return e.SerializeAsString();
  };
  const std::string proto = "application/x-protobuf";
  const std::string json = "application/json";
  struct Case {
    std::string what, value, content_type, code;
  };
  const std::vector<Case> cases = {
      {"malformed protobuf", "\xff\x00\x12garbage", proto, "bad_protobuf"},
      {"invalid JSON", R"({"event_id": "j-1", )", json, "bad_json"},
      {"unknown enum name",
       absl::StrCat(R"({"event_id": "j-2", "event_time": ")", Time(40),
                    R"(", "source": "m", "account_id": "acme", "type": "EMAIL_TELEPATHY"})"),
       json, "bad_json"},
      {"unknown enum number",
       with([](auto& e) { e.set_type(static_cast<baton::v1::EngagementType>(99)); }), proto,
       "invalid_value"},
      {"missing id", with([](auto& e) { e.clear_event_id(); }), proto, "missing_field"},
      {"year 1970", with([](auto& e) { e.mutable_event_time()->set_seconds(0); }), proto,
       "bad_timestamp"},
      {"year 2200", with([](auto& e) { e.mutable_event_time()->set_seconds(7258118400); }), proto,
       "bad_timestamp"},
      {"oversized field", with([](auto& e) { e.set_url(std::string(2 << 20, 'x')); }), proto,
       "oversized"},
      {"non-UTF-8 string", with([](auto& e) { e.set_source("m\xc3\x28"); }), proto, "bad_protobuf"},
  };
  Account();
  Engage("p-1", "PAGE_VISIT", 50, "https://vendor.example/pricing");
  Engage("o-1", "EMAIL_OPEN", 40);
  for (const Case& c : cases) {
    std::vector<HeaderView> headers = {{"content-type", c.content_type}};
    Feed("abm.engagement.v1", c.value, "acme", headers);
  }
  Engage("o-2", "EMAIL_OPEN", 30);
  Engage("o-3", "EMAIL_OPEN", 20);
  ASSERT_TRUE(processor_->Commit(sink_).ok());

  std::vector<std::string> codes;
  for (const auto& r : sink_.published) {
    if (r.topic != OutboundRecord::Topic::kDeadLetter) continue;
    for (const auto& h : r.headers) {
      if (h.key == "baton-error-code") codes.push_back(h.value);
    }
  }
  ASSERT_THAT(codes, SizeIs(cases.size()));
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(codes[i], cases[i].code) << cases[i].what;
  EXPECT_THAT(sink_.Ids(OutboundRecord::Topic::kRoutedLeads), SizeIs(1));
  EXPECT_EQ(store_.offsets[(TopicPartition{"abm.engagement.v1", 2})],
            static_cast<int64_t>(4 + cases.size()));
}

// Matching: engagement without an account id.
class MatchingTest : public ProcessorTest {
 protected:
  void AccountWithDomain(const std::string& domain, int minutes_ago = 600) {
    Feed("abm.crm.v1",
         absl::StrCat(R"({"event_id": "crm-acct-)", domain, R"(", "event_time": ")",
                      Time(minutes_ago), R"(", "source": "crm", "account_upsert": {"account_id":
                      "acme", "name": "Acme", "tier": "TIER_1", "domains": [")",
                      domain, R"("], "owners": {"ae_id": "ae-1"}}})"));
  }
  void EmailOnly(const std::string& id, const std::string& email, const std::string& type,
                 int minutes_ago, const std::string& url = "") {
    Feed("abm.engagement.v1",
         absl::StrCat(R"({"event_id": ")", id, R"(", "event_time": ")", Time(minutes_ago),
                      R"(", "source": "mkto", "contact_email": ")", email, R"(", "type": ")", type,
                      R"(", "url": ")", url, R"("})"),
         email);
  }
  std::vector<const OutboundRecord*> Published(OutboundRecord::Topic topic) {
    std::vector<const OutboundRecord*> out;
    for (const auto& r : sink_.published) {
      if (r.topic == topic) out.push_back(&r);
    }
    return out;
  }
  // Replay feeds the matched records back in, as the consumer of the internal topic would.
  void ReplayMatched() {
    for (const OutboundRecord* r : Published(OutboundRecord::Topic::kMatched)) {
      if (replayed_.insert(r->value).second) {
        InputRecord record;
        record.topic = "abm.engagement-matched.v1";
        record.partition = 2;
        record.offset = next_offset_["matched"]++;
        record.key = r->key;
        record.value = r->value;
        ASSERT_TRUE(processor_->Process(record).ok());
      }
    }
  }
  std::set<std::string> replayed_;
};

TEST_F(MatchingTest, ASubdomainEmailMatchesTheAccountDomainAndTheHandoffFollows) {
  AccountWithDomain("acme.example");
  EmailOnly("p-1", "dana@eu.acme.example", "PAGE_VISIT", 50, "https://v.example/pricing");
  EmailOnly("o-1", "dana@eu.acme.example", "EMAIL_OPEN", 40);
  EmailOnly("o-2", "dana@eu.acme.example", "EMAIL_OPEN", 30);
  EmailOnly("o-3", "Dana@EU.acme.example", "EMAIL_OPEN", 20);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const auto matched = Published(OutboundRecord::Topic::kMatched);
  ASSERT_THAT(matched, SizeIs(4));
  baton::v1::EngagementEvent rekeyed;
  ASSERT_TRUE(rekeyed.ParseFromString(matched[0]->value));
  EXPECT_EQ(matched[0]->key, "acme");
  EXPECT_EQ(rekeyed.account_id(), "acme");
  EXPECT_EQ(rekeyed.matched_by(), baton::v1::EMAIL_DOMAIN);
  EXPECT_THAT(Published(OutboundRecord::Topic::kRoutedLeads), IsEmpty());

  ReplayMatched();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const auto leads = Published(OutboundRecord::Topic::kRoutedLeads);
  ASSERT_THAT(leads, SizeIs(1));
  baton::v1::RoutedLead lead;
  ASSERT_TRUE(lead.ParseFromString(leads[0]->value));
  EXPECT_EQ(lead.contact().contact_id(), "dana@eu.acme.example");
  EXPECT_EQ(lead.trigger_events(0).matched_by(), baton::v1::EMAIL_DOMAIN);
  EXPECT_EQ(observer_.matched["EMAIL_DOMAIN"], 4);
}

TEST_F(MatchingTest, FreeMailIsNeverMatchedNorKept) {
  AccountWithDomain("gmail.com");  // an account claiming a free-mail domain does not get it
  EmailOnly("o-1", "someone@gmail.com", "EMAIL_OPEN", 20);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_THAT(Published(OutboundRecord::Topic::kMatched), IsEmpty());
  const auto unmatched = Published(OutboundRecord::Topic::kUnmatched);
  ASSERT_THAT(unmatched, SizeIs(1));
  EXPECT_EQ(unmatched[0]->key, "gmail.com");
  EXPECT_THAT(unmatched[0]->value, ::testing::HasSubstr("someone@gmail.com"));
  for (const auto& [key, value] : store_.accounts) {
    EXPECT_NE(key.substr(0, 5), std::string("\xff\xff\xff\xffw", 5)) << "kept free mail";
  }
}

TEST_F(MatchingTest, AnUnknownDomainWaitsUntilAnAccountClaimsIt) {
  EmailOnly("o-1", "li@newco.example", "EMAIL_OPEN", 30);
  EmailOnly("o-2", "li@labs.newco.example", "EMAIL_OPEN", 25);
  EmailOnly("o-3", "li@newcoop.example", "EMAIL_OPEN", 20);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_THAT(Published(OutboundRecord::Topic::kUnmatched), SizeIs(3));
  EXPECT_EQ(observer_.unmatched, 3);

  processor_ = MakeProcessor();  // the waiting events survive a restart
  AccountWithDomain("newco.example", 10);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const auto matched = Published(OutboundRecord::Topic::kMatched);
  ASSERT_THAT(matched, SizeIs(2));  // newco.example and its subdomain, not newcoop.example
  std::set<std::string> ids;
  for (const auto* r : matched) {
    baton::v1::EngagementEvent e;
    ASSERT_TRUE(e.ParseFromString(r->value));
    EXPECT_EQ(e.matched_by(), baton::v1::EMAIL_DOMAIN);
    ids.insert(e.event_id());
  }
  EXPECT_THAT(ids, ::testing::ElementsAre("o-1", "o-2"));

  AccountWithDomain("newco.example", 5);  // released once only
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_THAT(Published(OutboundRecord::Topic::kMatched), SizeIs(2));
}

TEST_F(MatchingTest, AContactLaterLinkedToAnAccountReleasesItsEngagement) {
  EmailOnly("o-1", "sam@consultancy.example", "EMAIL_OPEN", 30);
  EmailOnly("o-2", "kim@consultancy.example", "EMAIL_OPEN", 30);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "crm-c", "event_time": ")", Time(10),
                                  R"(", "source": "crm", "contact_upsert": {"contact_id": "c-9",
                                  "account_id": "acme", "email": "Sam@Consultancy.example"}})"));
  EmailOnly("o-3", "sam@consultancy.example", "EMAIL_OPEN", 5);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const auto matched = Published(OutboundRecord::Topic::kMatched);
  ASSERT_THAT(matched, SizeIs(2));  // Sam's waiting open, then Sam's new one; not Kim's
  for (const auto* r : matched) {
    baton::v1::EngagementEvent e;
    ASSERT_TRUE(e.ParseFromString(r->value));
    EXPECT_EQ(e.account_id(), "acme");
    EXPECT_EQ(e.matched_by(), baton::v1::KNOWN_CONTACT);
  }
}

// A pipelined commit: while one unit lands, the next is processed against its directory writes,
// which are not in the store yet.
TEST_F(MatchingTest, WhileAUnitLandsTheNextReadsItsDirectoryWritesFromMemory) {
  EmailOnly("o-1", "sam@consultancy.example", "EMAIL_OPEN", 30);  // waits for its domain
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "crm-c", "event_time": ")", Time(10),
                                  R"(", "source": "crm", "contact_upsert": {"contact_id": "c-9",
                                  "account_id": "acme", "email": "sam@consultancy.example"}})"));
  SealedUnit landing = processor_->Seal();
  const std::map<std::string, std::string> before_landing = store_.accounts;

  // The contact is known and Sam's waiting open released, though neither reached the store.
  EmailOnly("o-2", "sam@consultancy.example", "EMAIL_OPEN", 5);
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "crm-c2", "event_time": ")", Time(4),
                                  R"(", "source": "crm", "contact_upsert": {"contact_id": "c-9",
                                  "account_id": "acme", "email": "sam@consultancy.example"}})"));
  EXPECT_EQ(store_.accounts, before_landing);

  ASSERT_TRUE(processor_->Land(landing, sink_).ok());
  ASSERT_TRUE(processor_->Finish(landing, absl::OkStatus()).ok());
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  std::vector<std::string> matched;
  for (const auto* r : Published(OutboundRecord::Topic::kMatched)) {
    baton::v1::EngagementEvent e;
    ASSERT_TRUE(e.ParseFromString(r->value));
    EXPECT_EQ(e.matched_by(), baton::v1::KNOWN_CONTACT);
    matched.push_back(e.event_id());
  }
  // The waiting open once (the second upsert does not release it again), then the new one.
  EXPECT_THAT(matched, ElementsAre("o-1", "o-2"));
}

// Upserts naming a domain nobody waits for skip the waiting range (a filter of the domains with
// waiting engagement); engagement that starts waiting, or comes with a changelog restore, is
// still released.
TEST_F(MatchingTest, AnUpsertNamingADomainNobodyWaitsForReadsNoWaitingRange) {
  AccountWithDomain("first.example");  // reads acme, and the waiting range once for the filter
  const int scans = store_.scans;
  AccountWithDomain("second.example");
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "crm-c", "event_time": ")", Time(10),
                                  R"(", "source": "crm", "contact_upsert": {"contact_id": "c-9",
                                  "account_id": "acme", "email": "kim@third.example"}})"));
  EXPECT_EQ(store_.scans, scans);

  EmailOnly("o-1", "sam@sub.consultancy.example", "EMAIL_OPEN", 30);  // waits
  AccountWithDomain("consultancy.example");
  EXPECT_EQ(store_.scans, scans + 1);
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  ASSERT_THAT(Published(OutboundRecord::Topic::kMatched), SizeIs(1));
}

TEST_F(MatchingTest, EngagementWaitingInARestoredChangelogIsReleased) {
  EmailOnly("o-1", "sam@consultancy.example", "EMAIL_OPEN", 30);  // waits
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const std::vector<ChangelogRecord> tail = sink_.Tail(2, 0);

  // Another instance, which has built its filter before partition 2 moves to it.
  InMemoryStateStore other;
  processor_ = std::make_unique<Processor>(ProcessorOptions{}, engine_, other, observer_);
  InputRecord upsert;
  upsert.topic = "abm.crm.v1";
  upsert.partition = 3;
  upsert.key = "beta";
  const std::string value =
      absl::StrCat(R"({"event_id": "crm-beta", "event_time": ")", Time(20),
                   R"(", "source": "crm", "account_upsert": {"account_id": "beta",
                              "name": "Beta", "tier": "TIER_2", "domains": ["beta.example"]}})");
  upsert.value = value;
  upsert.headers = {{"content-type", "application/json"}};
  ASSERT_TRUE(processor_->Process(upsert).ok());
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  ASSERT_THAT(observer_.deadlettered, ::testing::IsEmpty());
  ASSERT_TRUE(processor_->RestoreChangelog(2, tail, static_cast<int64_t>(tail.size())).ok());

  AccountWithDomain("consultancy.example");
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  ASSERT_THAT(Published(OutboundRecord::Topic::kMatched), SizeIs(1));
}

TEST_F(MatchingTest, AMatchedTopicRecordWithoutAnAccountIsDeadLettered) {
  InputRecord record;
  record.topic = "abm.engagement-matched.v1";
  baton::v1::EngagementEvent e;
  e.set_event_id("x");
  e.mutable_event_time()->set_seconds(1795168000);
  e.set_source("s");
  e.set_contact_id("c");
  e.set_type(baton::v1::EMAIL_OPEN);
  const std::string value = e.SerializeAsString();
  record.value = value;
  ASSERT_TRUE(processor_->Process(record).ok());
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_EQ(observer_.deadlettered["missing_field"], 1);
}

// Follow-up SLA timers through the processor: the handoff at kNow-20m arms a reminder at
// kNow+10m, a deadline at kNow+40m and an escalation at kNow+70m (24x7 calendar).
std::shared_ptr<const core::RuleSet> SlaRules() {
  return core_testing::RulesFromText(absl::StrCat(core_testing::kCanonicalRuleText, R"(
    team { reps { id: "ae-1" manager: "mgr-1" } }
    sla {
      policies {
        tier_in: TIER_1
        first_follow_up { seconds: 3600 }
        remind_at: 0.5
        escalation { after { seconds: 1800 } notify: MANAGER }
      }
    })"));
}

class TimerTest : public ProcessorTest {
 protected:
  TimerTest() {
    engine_.SetRules(SlaRules());
    processor_ = MakeProcessor();
  }
  std::unique_ptr<Processor> MakeProcessor(bool event_time = false,
                                           absl::Duration grace = absl::ZeroDuration()) {
    ProcessorOptions options;
    options.timers_on_event_time = event_time;
    options.timer_grace = grace;
    return std::make_unique<Processor>(options, engine_, store_, observer_);
  }
  // Expire at kNow + minutes and commit; returns the alert ids published by that unit.
  std::vector<std::string> ExpireAt(int minutes) {
    const size_t before = sink_.published.size();
    EXPECT_TRUE(processor_->ExpireTimers({2}, kNow + absl::Minutes(minutes)).ok());
    EXPECT_TRUE(processor_->Commit(sink_).ok());
    RecordingSink unit;
    unit.published.assign(sink_.published.begin() + static_cast<long>(before),
                          sink_.published.end());
    return unit.Ids(OutboundRecord::Topic::kAlerts);
  }
  std::string HandoffId() { return sink_.Ids(OutboundRecord::Topic::kRoutedLeads).at(0).substr(5); }
};

TEST_F(TimerTest, TimersFireOnTheWallClockWhenNoEventArrivesEachOnce) {
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const std::string ho = HandoffId();
  EXPECT_EQ(processor_->NextTimer({2}).value(), kNow + absl::Minutes(10));
  EXPECT_THAT(ExpireAt(9), IsEmpty());
  EXPECT_THAT(ExpireAt(10), ElementsAre("alert:sla_reminder:" + ho));
  EXPECT_THAT(ExpireAt(39), IsEmpty());
  EXPECT_THAT(ExpireAt(120),
              ElementsAre("alert:sla_breach:" + ho, "alert:escalation:" + ho + ":1"));
  EXPECT_THAT(ExpireAt(600), IsEmpty());
  EXPECT_EQ(processor_->NextTimer({2}).value(), absl::InfiniteFuture());
  // The breach alert says when it was due, not when it fired.
  baton::v1::Alert breach;
  for (const auto& r : sink_.published) {
    if (r.topic == OutboundRecord::Topic::kAlerts && breach.ParseFromString(r.value) &&
        breach.kind() == baton::v1::SLA_BREACH) {
      break;
    }
  }
  EXPECT_EQ(core::ToTime(breach.occurred_at()), kNow + absl::Minutes(40));
  EXPECT_THAT(breach.recipients(), ElementsAre("ae-1"));
}

TEST_F(TimerTest, AGracePeriodLetsALateDeliveredFollowUpCount) {
  processor_ = MakeProcessor(/*event_time=*/false, /*grace=*/absl::Minutes(5));
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const std::string ho = HandoffId();
  EXPECT_THAT(ExpireAt(12), IsEmpty());  // the reminder (kNow+10m) waits out the grace
  EXPECT_THAT(ExpireAt(15), ElementsAre("alert:sla_reminder:" + ho));
  // The AE called at kNow+39m; the CRM delivers it at kNow+43m, after the deadline (kNow+40m)
  // but within the grace: the SLA is met, no breach.
  EXPECT_THAT(ExpireAt(43), IsEmpty());
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "act-1", "event_time": ")",
                                  absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", kNow + absl::Minutes(39),
                                                   absl::UTCTimeZone()),
                                  R"(", "source": "crm", "sales_activity": {"account_id": "acme",
                                  "rep_id": "ae-1", "kind": "CALL"}})"));
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_THAT(ExpireAt(600), IsEmpty());
}

TEST_F(TimerTest, ArmedTimersSurviveARestart) {
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const std::string ho = HandoffId();
  processor_ = MakeProcessor();  // a new process over the same store
  EXPECT_THAT(ExpireAt(120), ElementsAre("alert:sla_reminder:" + ho, "alert:sla_breach:" + ho,
                                         "alert:escalation:" + ho + ":1"));
}

TEST_F(TimerTest, AFollowUpByTheAssigneeStopsTheClock) {
  Account();
  QualifyingEngagement();
  Feed("abm.crm.v1", absl::StrCat(R"({"event_id": "act-1", "event_time": ")", Time(5),
                                  R"(", "source": "crm", "sales_activity": {"account_id": "acme",
                                  "rep_id": "ae-1", "kind": "CALL"}})"));
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  EXPECT_THAT(ExpireAt(600), IsEmpty());
}

TEST_F(TimerTest, AFailedCommitLosesNoTimer) {
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const std::string ho = HandoffId();
  ASSERT_TRUE(processor_->ExpireTimers({2}, kNow + absl::Minutes(15)).ok());
  sink_.fail = true;
  EXPECT_FALSE(processor_->Commit(sink_).ok());
  processor_->Rewind();
  sink_.fail = false;
  EXPECT_THAT(ExpireAt(15), ElementsAre("alert:sla_reminder:" + ho));
}

TEST_F(TimerTest, OnEventTimeTimersFollowThePartitionsLatestEvent) {
  processor_ = MakeProcessor(/*event_time=*/true);
  Account();
  QualifyingEngagement();
  ASSERT_TRUE(processor_->Commit(sink_).ok());
  const std::string ho = HandoffId();
  // The wall clock is hours ahead, but the partition's event time is not.
  EXPECT_THAT(ExpireAt(600), IsEmpty());
  // Another account's event moves the partition to kNow+50m: reminder and breach are due, the
  // escalation (kNow+70m) is not.
  Feed("abm.engagement.v1",
       absl::StrCat(
           R"({"event_id": "other-1", "event_time": ")",
           absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", kNow + absl::Minutes(50), absl::UTCTimeZone()),
           R"(", "source": "mkto", "account_id": "other", "contact_id": "c-9",
                    "type": "EMAIL_OPEN"})"),
       "other");
  EXPECT_THAT(ExpireAt(600), ElementsAre("alert:sla_reminder:" + ho, "alert:sla_breach:" + ho));
}

TEST(TimerKeyTest, TheIndexIsOrderedByDueTimeWithinAPartition) {
  EXPECT_LT(TimerKey(1, 5, "zzz"), TimerKey(1, 6, "aaa"));
  EXPECT_LT(TimerKey(1, 999, "a"), TimerKey(2, 0, "a"));
  // Below every account's records (account ids start with a printable character).
  EXPECT_LT(TimerKey(1, std::numeric_limits<int64_t>::max(), "~"), AccountKey(1, " "));
}

TEST(AccountKeyTest, PartitionPrefixIsBigEndianAndTheIdIsTerminated) {
  EXPECT_EQ(AccountKey(258, "a"), std::string("\0\0\1\2a\0", 6));
}

}  // namespace
}  // namespace baton::pipeline
