#include "baton/core/engine.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "baton/core/account.h"
#include "baton/core/clock.h"
#include "baton/core/event.h"
#include "baton/core/ids.h"
#include "baton/core/testing/canonical_rules.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace baton::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixSeconds(1793000000);  // 2026-10-26

// StoredAccount keeps one account's stored parts as the processor does: each commit writes or
// deletes the parts that changed.
class StoredAccount {
 public:
  std::vector<StoredPart> Commit(Account& account) {
    std::vector<StoredPart> changes = account.TakeChanges();
    for (const StoredPart& p : changes) {
      if (p.value.has_value()) {
        parts_[{p.kind, p.day}] = *p.value;
      } else {
        parts_.erase({p.kind, p.day});
      }
    }
    return changes;
  }
  const std::string* Find(StoredPart::Kind kind) const {
    auto it = parts_.find({kind, 0});
    return it == parts_.end() ? nullptr : &it->second;
  }
  absl::StatusOr<Account> Restore() const {
    std::vector<StoredPart> parts;
    for (const auto& [id, value] : parts_) parts.push_back({id.first, id.second, value});
    return Account::Restore(parts);
  }

 private:
  std::map<std::pair<StoredPart::Kind, int64_t>, std::string> parts_;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : clock_(kStart), engine_(EngineOptions{}, core_testing::CanonicalRules(), clock_) {}

  // Upsert applies an AccountUpsert for account "acme" at `tier`, owned by AE "ae-1".
  Effects Upsert(baton::v1::Tier tier, std::string ae = "ae-1") {
    baton::v1::CrmEvent e = Crm();
    auto* a = e.mutable_account_upsert();
    a->set_account_id("acme");
    a->set_name("Acme Corp");
    a->set_tier(tier);
    a->mutable_owners()->set_ae_id(ae);
    a->mutable_owners()->set_marketing_owner_id("mkt-1");
    a->set_selection_reason("expansion");
    return MustApply(e);
  }

  Effects Contact(std::string id, baton::v1::BuyingGroupRole role) {
    baton::v1::CrmEvent e = Crm();
    auto* c = e.mutable_contact_upsert();
    c->set_contact_id(id);
    c->set_account_id("acme");
    c->set_email(id + "@acme.example");
    c->set_title("VP Engineering");
    c->set_role(role);
    return MustApply(e);
  }

  Effects Engage(baton::v1::EngagementType type, std::string contact = "c-1", std::string url = "",
                 std::string event_id = "") {
    baton::v1::EngagementEvent e;
    e.set_event_id(event_id.empty() ? NextId() : event_id);
    *e.mutable_event_time() = ToTimestamp(clock_.Now());
    e.set_source("test");
    e.set_account_id("acme");
    e.set_contact_id(contact);
    e.set_type(type);
    e.set_url(url);
    return MustApply(e);
  }

  Effects Open(std::string contact = "c-1") { return Engage(baton::v1::EMAIL_OPEN, contact); }
  Effects Pricing(std::string contact = "c-2") {
    return Engage(baton::v1::PAGE_VISIT, contact, "https://acme-vendor.example/pricing");
  }

  Effects MustApply(const InputEvent& e) {
    absl::StatusOr<Effects> effects = engine_.Apply(e, state_, team_);
    EXPECT_TRUE(effects.ok()) << effects.status();
    return effects.ok() ? *effects : Effects{};
  }

  baton::v1::CrmEvent Crm() {
    baton::v1::CrmEvent e;
    e.set_event_id(NextId());
    *e.mutable_event_time() = ToTimestamp(clock_.Now());
    e.set_source("crm");
    return e;
  }

  std::string NextId() { return "ev-" + std::to_string(++next_id_); }
  void AdvanceDays(int days) { clock_.Advance(absl::Hours(24 * days)); }

  FakeClock clock_;
  Engine engine_;
  Account state_;
  Team team_;
  int next_id_ = 0;
};

TEST_F(EngineTest, FiresAtTheThirdOpenNotTheSecond) {
  Upsert(baton::v1::TIER_1);
  EXPECT_THAT(Pricing().leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(Open().leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(Open().leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  Effects third = Open();
  ASSERT_THAT(third.leads, SizeIs(1));
  ASSERT_THAT(third.alerts, SizeIs(1));
  const auto& lead = third.leads[0];
  EXPECT_EQ(lead.account_id(), "acme");
  EXPECT_EQ(lead.assignee_id(), "ae-1");
  EXPECT_EQ(lead.assignee_role(), "AE");
  EXPECT_EQ(lead.tier(), baton::v1::TIER_1);
  EXPECT_EQ(lead.rule_name(), "tier1-email-opens-and-pricing");
  EXPECT_EQ(lead.qualification_level(), baton::v1::SALES_READY);
  EXPECT_EQ(lead.contact().contact_id(), "c-1");
  EXPECT_EQ(lead.reason(),
            "3 email opens by contact c-1 in 14d; pricing page visit 3h ago; Tier 1");
  EXPECT_THAT(lead.trigger_events(), SizeIs(4));
  EXPECT_EQ(lead.lead_id(), "lead:" + lead.handoff_id());
  EXPECT_EQ(lead.selection_reason(), "expansion");
  EXPECT_EQ(lead.engagement().email_opens(), 3);
  EXPECT_EQ(lead.engagement().pricing_page_visits(), 1);
  EXPECT_EQ(lead.engagement().engaged_contacts(), 2);
  const auto& alert = third.alerts[0];
  EXPECT_EQ(alert.kind(), baton::v1::HANDOFF);
  EXPECT_EQ(alert.alert_id(), "alert:handoff:" + lead.handoff_id());
  EXPECT_THAT(alert.recipients(), ElementsAre("ae-1"));
}

TEST_F(EngineTest, OpensOlderThanTheWindowDoNotCount) {
  Upsert(baton::v1::TIER_1);
  Open();
  AdvanceDays(1);
  Open();
  AdvanceDays(14);  // the first two opens are now 15 and 14 days old
  EXPECT_THAT(Pricing().leads, IsEmpty());
  EXPECT_THAT(Open().leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(Open().leads, IsEmpty());
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(Open().leads, SizeIs(1));  // three fresh opens
}

TEST_F(EngineTest, AnOpenExactlyAtTheWindowEdgeIsOutside) {
  Upsert(baton::v1::TIER_1);
  Open();
  AdvanceDays(7);
  Open();
  Pricing();
  AdvanceDays(7);  // the first open is exactly 14 days old now
  EXPECT_THAT(Open().leads, IsEmpty());
  clock_.Advance(absl::Milliseconds(1));
  Open();
  EXPECT_THAT(state_.head().handoffs(), SizeIs(1));
}

TEST_F(EngineTest, TierTwoWithTheSameEngagementDoesNotHandOff) {
  Upsert(baton::v1::TIER_2);
  Pricing();
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Hours(1));
    EXPECT_THAT(Open().leads, IsEmpty());
    EXPECT_THAT(Open().alerts, IsEmpty());
  }
  EXPECT_THAT(state_.head().handoffs(), IsEmpty());
}

TEST_F(EngineTest, ASecondBurstAfterAHandoffDoesNotHandOffAgain) {
  Upsert(baton::v1::TIER_1);
  Pricing();
  Open();
  Open();
  ASSERT_THAT(Open().leads, SizeIs(1));
  for (int day = 0; day < 10; ++day) {
    AdvanceDays(1);
    EXPECT_THAT(Pricing().leads, IsEmpty());
    for (int i = 0; i < 4; ++i) EXPECT_THAT(Open("c-3").leads, IsEmpty());
  }
}

TEST_F(EngineTest, AClosedHandoffStillHoldsTheCooldownThenTheRuleMayFireAgain) {
  Upsert(baton::v1::TIER_1);
  Pricing();
  Open();
  Open();
  Effects first = Open();
  ASSERT_THAT(first.leads, SizeIs(1));
  baton::v1::CrmEvent accept = Crm();
  accept.mutable_handoff_disposition()->set_handoff_id(first.leads[0].handoff_id());
  accept.mutable_handoff_disposition()->set_account_id("acme");
  accept.mutable_handoff_disposition()->set_disposition(baton::v1::ACCEPTED);
  MustApply(accept);
  EXPECT_EQ(state_.head().handoffs(0).status(), baton::internal::v1::ACCEPTED);

  AdvanceDays(20);  // inside the 30-day cooldown
  Pricing();
  Open();
  Open();
  EXPECT_THAT(Open().leads, IsEmpty());
  AdvanceDays(11);  // past it; the three opens of 11 days ago are still in the window
  Effects second = Pricing();
  ASSERT_THAT(second.leads, SizeIs(1));
  EXPECT_NE(second.leads[0].handoff_id(), first.leads[0].handoff_id());
}

TEST_F(EngineTest, ADuplicateEventIdCountsOnce) {
  Upsert(baton::v1::TIER_1);
  Pricing();
  Engage(baton::v1::EMAIL_OPEN, "c-1", "", "open-1");
  Effects dup = Engage(baton::v1::EMAIL_OPEN, "c-1", "", "open-1");
  EXPECT_TRUE(dup.duplicate);
  EXPECT_THAT(Engage(baton::v1::EMAIL_OPEN, "c-1", "", "open-1").leads, IsEmpty());
  Open();
  EXPECT_THAT(state_.head().handoffs(), IsEmpty());
  EXPECT_THAT(Open().leads, SizeIs(1));
}

TEST_F(EngineTest, OpensByDifferentContactsDoNotAddUp) {
  Upsert(baton::v1::TIER_1);
  Pricing();
  Open("c-1");
  Open("c-2");
  Open("c-3");
  Open("c-1");
  EXPECT_THAT(state_.head().handoffs(), IsEmpty());
}

TEST_F(EngineTest, ALateOpenIsPlacedByItsEventTime) {
  Upsert(baton::v1::TIER_1);
  const absl::Time first_open = clock_.Now();
  Open();
  AdvanceDays(2);
  Open();
  Pricing();
  // The third open happened a day ago but arrives now, after the pricing visit.
  baton::v1::EngagementEvent late;
  late.set_event_id("late-open");
  *late.mutable_event_time() = ToTimestamp(first_open + absl::Hours(24));
  late.set_source("test");
  late.set_account_id("acme");
  late.set_contact_id("c-1");
  late.set_type(baton::v1::EMAIL_OPEN);
  Effects effects = MustApply(late);
  ASSERT_THAT(effects.leads, SizeIs(1));
  EXPECT_EQ(effects.leads[0].trigger_events(1).event_id(), "late-open");
}

TEST_F(EngineTest, AnEventOlderThanTheRetentionIsLateAndIgnored) {
  Upsert(baton::v1::TIER_1);
  AdvanceDays(20);
  Pricing();
  baton::v1::EngagementEvent old;
  old.set_event_id("very-late");
  *old.mutable_event_time() = ToTimestamp(kStart);
  old.set_source("test");
  old.set_account_id("acme");
  old.set_contact_id("c-1");
  old.set_type(baton::v1::EMAIL_OPEN);
  Effects effects = MustApply(old);
  EXPECT_TRUE(effects.late);
  EXPECT_EQ(state_.record_count(), 1);
}

TEST_F(EngineTest, EngagementBeforeTheAccountIsKnownCountsOnceItIs) {
  Pricing();
  Open();
  Open();
  Open();
  EXPECT_THAT(state_.head().handoffs(), IsEmpty());
  Effects effects = Upsert(baton::v1::TIER_1);
  EXPECT_THAT(effects.leads, SizeIs(1));
}

TEST_F(EngineTest, NoAeIsAnExplicitRoutingFailure) {
  Upsert(baton::v1::TIER_1, /*ae=*/"");
  Pricing();
  Open();
  Open();
  Effects effects = Open();
  EXPECT_THAT(effects.leads, IsEmpty());
  ASSERT_THAT(effects.alerts, SizeIs(1));
  EXPECT_EQ(effects.alerts[0].kind(), baton::v1::ROUTING_FAILURE);
  EXPECT_THAT(effects.alerts[0].recipients(), ElementsAre("mkt-1"));
  EXPECT_THAT(effects.alerts[0].summary(), HasSubstr("account AE: none"));
  EXPECT_THAT(Open().alerts, IsEmpty());  // one alert, not one per event
}

TEST_F(EngineTest, TheLeadCarriesTheContactAndBuyingGroup) {
  Upsert(baton::v1::TIER_1);
  Contact("c-1", baton::v1::TECHNICAL_EVALUATOR);
  Contact("c-2", baton::v1::FINANCE);
  Pricing("c-2");
  Open();
  Open();
  Effects effects = Open();
  ASSERT_THAT(effects.leads, SizeIs(1));
  const auto& lead = effects.leads[0];
  EXPECT_EQ(lead.contact().email(), "c-1@acme.example");
  EXPECT_EQ(lead.contact().role(), baton::v1::TECHNICAL_EVALUATOR);
  EXPECT_THAT(lead.engagement().roles_engaged(),
              ElementsAre(baton::v1::TECHNICAL_EVALUATOR, baton::v1::FINANCE));
  EXPECT_THAT(lead.recommended_message(), HasSubstr("Acme Corp (Tier 1)"));
  EXPECT_THAT(lead.recommended_message(), HasSubstr("technical evaluator"));
}

TEST_F(EngineTest, AnEventFromTheFutureIsRejected) {
  baton::v1::EngagementEvent e;
  e.set_event_id("future");
  *e.mutable_event_time() = ToTimestamp(clock_.Now() + absl::Hours(48));
  e.set_account_id("acme");
  e.set_contact_id("c-1");
  e.set_type(baton::v1::EMAIL_OPEN);
  absl::StatusOr<Effects> effects = engine_.Apply(e, state_, team_);
  EXPECT_EQ(effects.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(effects.status().message(), HasSubstr("bad_timestamp"));
  EXPECT_EQ(state_.record_count(), 0);
}

TEST_F(EngineTest, TheSameEventsGiveByteIdenticalOutputs) {
  auto run = [this] {
    state_ = Account();
    clock_.Set(kStart);
    next_id_ = 0;
    Upsert(baton::v1::TIER_1);
    Contact("c-1", baton::v1::CHAMPION);
    Pricing();
    Open();
    Open();
    Effects effects = Open();
    return effects.leads.at(0).SerializeAsString() + effects.alerts.at(0).SerializeAsString();
  };
  EXPECT_EQ(run(), run());
}

TEST_F(EngineTest, ACommitWritesTheHeadAndOnlyTheDaysThatChanged) {
  Upsert(baton::v1::TIER_2);
  Open();
  AdvanceDays(1);
  Open();
  state_.TakeChanges();
  AdvanceDays(1);
  Open();
  std::vector<StoredPart> changes = state_.TakeChanges();
  ASSERT_THAT(changes, SizeIs(2));
  EXPECT_EQ(changes[0].kind, StoredPart::Kind::kHead);
  EXPECT_EQ(changes[1].kind, StoredPart::Kind::kDay);
  EXPECT_EQ(changes[1].day, Account::DayOf(absl::ToUnixMillis(clock_.Now())));
  EXPECT_FALSE(state_.dirty());
}

TEST_F(EngineTest, ContactsAreStoredApartAndWrittenOnlyWhenTheyChange) {
  Upsert(baton::v1::TIER_1);
  Contact("c-1", baton::v1::CHAMPION);
  Contact("c-2", baton::v1::FINANCE);
  StoredAccount stored;
  stored.Commit(state_);
  ASSERT_NE(stored.Find(StoredPart::Kind::kContacts), nullptr);
  baton::internal::v1::AccountHead head;
  ASSERT_TRUE(head.ParseFromString(*stored.Find(StoredPart::Kind::kHead)));
  EXPECT_EQ(head.contacts_size(), 0);  // not stored twice

  Open();  // engagement changes the head and a day, not the contacts
  for (const StoredPart& p : stored.Commit(state_)) EXPECT_NE(p.kind, StoredPart::Kind::kContacts);
  absl::StatusOr<Account> restored = stored.Restore();
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->head().SerializeAsString(), state_.head().SerializeAsString());
  ASSERT_EQ(restored->contacts().size(), 2);  // parsed here, on first use
  EXPECT_EQ(restored->contacts().Get(1).contact_id(), "c-2");
  EXPECT_EQ(restored->contacts().Get(1).role(), baton::v1::FINANCE);
  EXPECT_FALSE(restored->dirty());
}

TEST_F(EngineTest, EngagementRewritesTheHeadWithoutItsCrmPart) {
  Upsert(baton::v1::TIER_1);
  Contact("c-1", baton::v1::CHAMPION);
  StoredAccount stored;
  stored.Commit(state_);
  ASSERT_NE(stored.Find(StoredPart::Kind::kCrm), nullptr);

  Open();
  std::vector<StoredPart> changes = stored.Commit(state_);
  ASSERT_THAT(changes, SizeIs(2));
  EXPECT_EQ(changes[0].kind, StoredPart::Kind::kHead);
  EXPECT_EQ(changes[1].kind, StoredPart::Kind::kDay);
  baton::internal::v1::AccountHead head;
  ASSERT_TRUE(head.ParseFromString(*changes[0].value));
  EXPECT_EQ(head.account_id(), "acme");
  EXPECT_GT(head.watermark_ms(), 0);
  EXPECT_FALSE(head.has_profile());
  EXPECT_THAT(head.crm_seen(), IsEmpty());
  // The head in memory keeps its CRM part.
  EXPECT_EQ(state_.head().profile().name(), "Acme Corp");
  EXPECT_THAT(state_.head().crm_seen(), SizeIs(2));

  absl::StatusOr<Account> restored = stored.Restore();
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->head().SerializeAsString(), state_.head().SerializeAsString());
  EXPECT_FALSE(restored->dirty());
}

TEST_F(EngineTest, EveryChangeToTheCrmPartIsStored) {
  StoredAccount stored;
  auto restores_as_is = [&] {
    stored.Commit(state_);
    absl::StatusOr<Account> restored = stored.Restore();
    return restored.ok() &&
           restored->head().SerializeAsString() == state_.head().SerializeAsString();
  };
  Upsert(baton::v1::TIER_2);
  EXPECT_TRUE(restores_as_is());
  baton::v1::CrmEvent deal = Crm();
  deal.mutable_deal_stage_change()->set_deal_id("deal-1");
  deal.mutable_deal_stage_change()->set_account_id("acme");
  deal.mutable_deal_stage_change()->set_stage("Negotiation");
  deal.mutable_deal_stage_change()->set_amount_minor(125'000'00);
  deal.mutable_deal_stage_change()->set_currency("EUR");
  clock_.Advance(absl::Minutes(1));
  deal.set_event_id(NextId());
  *deal.mutable_event_time() = ToTimestamp(clock_.Now());
  MustApply(deal);
  ASSERT_EQ(state_.head().last_deal_currency(), "EUR");
  EXPECT_TRUE(restores_as_is());
  clock_.Advance(absl::Minutes(1));
  Upsert(baton::v1::TIER_1, "ae-2");  // a later upsert: the deal's stage stands
  ASSERT_EQ(state_.head().profile().owners().ae_id(), "ae-2");
  EXPECT_TRUE(restores_as_is());
  baton::v1::CrmEvent call = Crm();
  call.mutable_sales_activity()->set_account_id("acme");
  call.mutable_sales_activity()->set_kind(baton::v1::CALL);
  MustApply(call);
  EXPECT_TRUE(restores_as_is());
  Open();
  EXPECT_TRUE(restores_as_is());
  ASSERT_THAT(state_.head().crm_seen(), SizeIs(4));
}

TEST_F(EngineTest, StoredContactsThatDoNotParseReadAsCorruptAndAreNeverOverwritten) {
  Upsert(baton::v1::TIER_1);
  std::string head;
  for (StoredPart& p : state_.TakeChanges()) {
    if (p.kind == StoredPart::Kind::kHead) head = *p.value;
  }
  // A contacts field whose length runs past the end of the record.
  absl::StatusOr<Account> restored = Account::Restore({{StoredPart::Kind::kHead, 0, head},
                                                       {StoredPart::Kind::kContacts, 0,
                                                        std::string("\x1a\x05"
                                                                    "ab",
                                                                    4)}});
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_FALSE(restored->contacts_corrupt());  // not read yet
  EXPECT_THAT(restored->contacts(), IsEmpty());
  EXPECT_TRUE(restored->contacts_corrupt());
  restored->mutable_contacts().Add()->set_contact_id("c-9");
  for (const StoredPart& p : restored->TakeChanges()) {
    EXPECT_NE(p.kind, StoredPart::Kind::kContacts);
  }
}

TEST_F(EngineTest, AHeadStoredWholeRestoresAndStoresItsPartsApartNextCommit) {
  Upsert(baton::v1::TIER_1);
  Contact("c-1", baton::v1::CHAMPION);
  state_.TakeChanges();
  // The layout before the contacts and the CRM part were stored apart: one head holding all.
  baton::internal::v1::AccountHead whole = state_.head();
  *whole.mutable_contacts() = state_.contacts();
  absl::StatusOr<Account> restored =
      Account::Restore({{StoredPart::Kind::kHead, 0, whole.SerializeAsString()}});
  ASSERT_TRUE(restored.ok()) << restored.status();
  ASSERT_EQ(restored->contacts().size(), 1);
  EXPECT_EQ(restored->contacts().Get(0).contact_id(), "c-1");
  EXPECT_EQ(restored->head().contacts_size(), 0);
  EXPECT_EQ(restored->head().profile().name(), "Acme Corp");
  ASSERT_TRUE(restored->dirty());
  StoredAccount stored;
  std::vector<StoredPart> changes = stored.Commit(*restored);
  ASSERT_THAT(changes, SizeIs(3));
  EXPECT_EQ(changes[0].kind, StoredPart::Kind::kHead);
  EXPECT_EQ(changes[1].kind, StoredPart::Kind::kCrm);
  EXPECT_EQ(changes[2].kind, StoredPart::Kind::kContacts);
  baton::internal::v1::AccountHead head;
  ASSERT_TRUE(head.ParseFromString(*changes[0].value));
  EXPECT_FALSE(head.has_profile());
  absl::StatusOr<Account> again = stored.Restore();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->head().SerializeAsString(), state_.head().SerializeAsString());
}

TEST_F(EngineTest, TheCrmRecordWinsOverAnOlderCopyInTheHead) {
  Upsert(baton::v1::TIER_2);
  baton::internal::v1::AccountHead old_whole = state_.head();
  state_.TakeChanges();
  clock_.Advance(absl::Minutes(1));
  Upsert(baton::v1::TIER_1, "ae-2");
  std::string crm;
  for (StoredPart& p : state_.TakeChanges()) {
    if (p.kind == StoredPart::Kind::kCrm) crm = *p.value;
  }
  ASSERT_FALSE(crm.empty());
  absl::StatusOr<Account> restored =
      Account::Restore({{StoredPart::Kind::kHead, 0, old_whole.SerializeAsString()},
                        {StoredPart::Kind::kCrm, 0, crm}});
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->head().profile().tier(), baton::v1::TIER_1);
  EXPECT_EQ(restored->head().profile().owners().ae_id(), "ae-2");
  EXPECT_THAT(restored->head().crm_seen(), SizeIs(2));
}

// CrmRecordOf is the CRM record among an account's parts ("" if none).
std::string CrmRecordOf(Account account) {
  for (StoredPart& p : std::move(account).Release()) {
    if (p.kind == StoredPart::Kind::kCrm) return *p.value;
  }
  return {};
}

TEST_F(EngineTest, AnUnchangedCrmPartIsPassedOnAsStoredAndAChangedOneAsChanged) {
  Upsert(baton::v1::TIER_2);
  std::vector<StoredPart> stored = state_.TakeChanges();
  // The CRM record with its fields out of protobuf's order: serialized again, it would differ.
  baton::internal::v1::AccountHead time_only;
  baton::internal::v1::AccountHead profile_only;
  for (const StoredPart& p : stored) {
    if (p.kind != StoredPart::Kind::kCrm) continue;
    ASSERT_TRUE(time_only.ParseFromString(*p.value));
    profile_only.set_allocated_profile(time_only.release_profile());
  }
  ASSERT_TRUE(profile_only.has_profile());
  const std::string out_of_order = time_only.SerializeAsString() + profile_only.SerializeAsString();
  for (StoredPart& p : stored) {
    if (p.kind == StoredPart::Kind::kCrm) p.value = out_of_order;
  }
  absl::StatusOr<Account> restored = Account::Restore(stored);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(CrmRecordOf(*restored), out_of_order);
  // Engagement leaves the CRM part as it was.
  state_ = *std::move(restored);
  Open();
  state_.TakeChanges();
  EXPECT_EQ(CrmRecordOf(state_), out_of_order);

  // A CRM event changes it: before and after its commit, the parts hold the new profile.
  clock_.Advance(absl::Minutes(1));
  Upsert(baton::v1::TIER_1, "ae-2");
  for (bool committed : {false, true}) {
    if (committed) state_.TakeChanges();
    baton::internal::v1::AccountHead crm;
    ASSERT_TRUE(crm.ParseFromString(CrmRecordOf(state_)));
    EXPECT_EQ(crm.profile().tier(), baton::v1::TIER_1) << "committed " << committed;
    EXPECT_EQ(crm.profile().owners().ae_id(), "ae-2") << "committed " << committed;
  }
}

TEST_F(EngineTest, DaysPastTheRetentionAreDeletedAndTheAccountRestoresFromItsParts) {
  Upsert(baton::v1::TIER_1);
  Open();
  Open();
  std::vector<StoredPart> stored = state_.TakeChanges();
  AdvanceDays(15);
  Pricing();
  std::vector<StoredPart> changes = state_.TakeChanges();
  bool deleted_old_day = false;
  for (const StoredPart& c : changes) {
    deleted_old_day |= c.kind == StoredPart::Kind::kDay &&
                       c.day == Account::DayOf(absl::ToUnixMillis(kStart)) && !c.value;
  }
  EXPECT_TRUE(deleted_old_day);
  EXPECT_EQ(state_.record_count(), 1);

  // What a store holds after both commits restores to the same account.
  std::map<std::pair<int, int64_t>, std::optional<std::string>> store;
  for (const auto* parts : {&stored, &changes}) {
    for (const StoredPart& p : *parts) store[{static_cast<int>(p.kind), p.day}] = p.value;
  }
  std::vector<StoredPart> surviving;
  for (const auto& [key, value] : store) {
    if (value) surviving.push_back({static_cast<StoredPart::Kind>(key.first), key.second, value});
  }
  absl::StatusOr<Account> restored = Account::Restore(surviving);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->record_count(), 1);
  EXPECT_EQ(restored->head().SerializeAsString(), state_.head().SerializeAsString());
  EXPECT_TRUE(restored->HasEngagement(StableHash64({"ev-4"})));
}

TEST_F(EngineTest, ARestoredAccountStillRecognisesDuplicates) {
  Upsert(baton::v1::TIER_1);
  Engage(baton::v1::EMAIL_OPEN, "c-1", "", "open-1");
  absl::StatusOr<Account> restored = Account::Restore(state_.TakeChanges());
  ASSERT_TRUE(restored.ok());
  state_ = std::move(*restored);
  EXPECT_TRUE(Engage(baton::v1::EMAIL_OPEN, "c-1", "", "open-1").duplicate);
}

}  // namespace
}  // namespace baton::core
