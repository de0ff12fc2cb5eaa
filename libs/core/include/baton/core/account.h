// Account: one account's state as the engine works on it.
//
// The state is split for storage: a small head (handoffs, touches, watermark, …), the CRM's
// part of the head (profile, deal, de-duplication ids), the contacts, and one chunk of engagement
// records per UTC day of event time. The account tracks what changed since its last commit, so a
// commit rewrites the head and the days that changed — usually today — instead of the account's
// whole history, and old days are deleted whole.
//
// Rationale: a busy account holds thousands of engagement records within the retention window;
// rewriting them all on every commit made commits cost O(state) per account instead of O(new
// events). The CRM's part is most of the head's bytes and only CRM events change it, so an
// engagement event rewrites a few dozen bytes of head instead of a few hundred.
//
// The contacts are kept apart from the head, in memory too, and an account read from the store
// keeps their stored record unparsed until they are first read: most events (and rules without
// buying-group roles) never need them, and parsing and then freeing them was about a tenth of the
// cost of reading an account.
//
// Thread-safety: a plain value, owned by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "baton/core/engagement.h"
#include "baton/internal/v1/state.pb.h"

namespace baton::core {

// StoredPart is one stored piece of an account: its head, its CRM part, its contacts, or one
// day of engagement.
struct StoredPart {
  enum class Kind { kHead, kCrm, kContacts, kDay };
  Kind kind = Kind::kHead;
  int64_t day = 0;  // for kDay
  // The serialized AccountHead without its CRM part and contacts (kHead), AccountHead with only
  // its CRM part (kCrm: the fields Account::mutable_crm names) or only its contacts (kContacts),
  // or EngagementDay; nullopt means "delete this part".
  std::optional<std::string> value;
};

class Account {
 public:
  Account() = default;

  // Restore rebuilds an account from its stored parts (values present). DataLoss if a part does
  // not parse.
  static absl::StatusOr<Account> Restore(std::vector<StoredPart> parts);

  // TakeChanges returns the parts written or deleted since the last call, and forgets them.
  std::vector<StoredPart> TakeChanges();
  // Release is the whole account as stored, for Restore: of a clean account, what the store
  // holds (contacts not yet parsed are passed on as read). What the account keeps as stored
  // bytes moves out, uncopied: only destruction may follow.
  std::vector<StoredPart> Release() &&;
  bool dirty() const {
    return head_dirty_ || contacts_dirty_ || !dirty_days_.empty() || !dropped_days_.empty();
  }

  // The head, its CRM part included, without its contacts (its contacts field stays empty):
  // read them with contacts().
  const baton::internal::v1::AccountHead& head() const { return head_; }
  // mutable_head is for the head apart from its CRM part (change that through mutable_crm) and
  // its contacts (through mutable_contacts): those are stored apart, since only CRM events change
  // them and the rest of the head changes with every event.
  baton::internal::v1::AccountHead& mutable_head() {
    head_dirty_ = true;
    return head_;
  }
  // mutable_crm is the head, for changes to its CRM part too: profile, profile_time_ms,
  // stage_time_ms, last_deal_id, last_deal_amount_minor, last_deal_currency and crm_seen. A
  // change to one of those made through mutable_head is not stored.
  baton::internal::v1::AccountHead& mutable_crm() {
    crm_dirty_ = true;
    return mutable_head();
  }
  // The contacts the CRM named, parsed from their stored record on first use. When that record
  // does not parse they read as none and contacts_corrupt() is true; they are then never written.
  const google::protobuf::RepeatedPtrField<baton::internal::v1::ContactState>& contacts() const {
    LoadContacts();
    return contacts_;
  }
  google::protobuf::RepeatedPtrField<baton::internal::v1::ContactState>& mutable_contacts() {
    LoadContacts();
    contacts_dirty_ = true;
    return contacts_;
  }
  bool contacts_corrupt() const { return contacts_corrupt_; }

  // Engagement records, by day, each day in time order.
  const std::map<int64_t, EngagementDay>& days() const { return days_; }
  int record_count() const { return record_count_; }
  bool HasEngagement(uint64_t event_id_hash) const {
    return engagement_ids_.contains(event_id_hash);
  }

  // AddEngagement inserts a record at its place in time; `event_id_hash` is
  // StableHash64({record.event_id}), which the caller has already computed to check for a
  // duplicate.
  void AddEngagement(const NewEngagement& record, uint64_t event_id_hash);

  // DropEngagementUpTo deletes every record with time_ms <= horizon_ms (whole days where it
  // can), then, while more than `max_records` remain, the oldest days.
  void DropEngagementUpTo(int64_t horizon_ms, int max_records);

  // ForEachRecord calls f(Engagement) for records with time in (from_ms, to_ms], in time order.
  // A record read is valid until the account's engagement next changes.
  template <typename F>
  void ForEachRecord(int64_t from_ms, int64_t to_ms, F&& f) const {
    for (auto it = days_.lower_bound(DayOf(from_ms + 1)); it != days_.end(); ++it) {
      if (it->first > DayOf(to_ms)) break;
      it->second.ForEach(from_ms, to_ms, f);
    }
  }

  static int64_t DayOf(int64_t time_ms);

 private:
  void LoadContacts() const;
  // SerializeContacts is the stored contacts record of contacts_.
  std::string SerializeContacts() const;
  // SerializeHead is the stored head record; with `crm`, also sets it to the stored CRM record.
  std::string SerializeHead(std::string* crm) const;

  // Logically const: SerializeHead moves the CRM part out and back.
  mutable baton::internal::v1::AccountHead head_;
  // Logically const: contacts() parses stored_contacts_ into contacts_ on first use, and
  // SerializeContacts moves contacts_ out and back.
  mutable google::protobuf::RepeatedPtrField<baton::internal::v1::ContactState> contacts_;
  // The stored contacts record (an AccountHead holding only contacts) not yet parsed.
  mutable std::string stored_contacts_;
  mutable bool contacts_corrupt_ = false;
  std::map<int64_t, EngagementDay> days_;
  absl::flat_hash_set<uint64_t> engagement_ids_;
  int record_count_ = 0;
  bool head_dirty_ = false;
  bool crm_dirty_ = false;  // implies head_dirty_
  // The CRM record as stored (read or last written), while crm_dirty_ is false: an eviction
  // passes it on instead of serializing the CRM part again.
  std::string stored_crm_;
  bool contacts_dirty_ = false;
  absl::flat_hash_set<int64_t> dirty_days_;
  std::vector<int64_t> dropped_days_;
};

}  // namespace baton::core
