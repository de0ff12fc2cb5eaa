#include "baton/core/account.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "baton/core/ids.h"

namespace baton::core {
namespace {

constexpr int64_t kDayMs = 24 * 3600 * 1000;

using baton::internal::v1::AccountHead;

// MoveCrmPart moves the CRM part of a head (the fields Account::mutable_crm names) from `from`
// to `to`, replacing `to`'s and leaving `from`'s empty. It moves pointers, never copies.
void MoveCrmPart(AccountHead& from, AccountHead& to) {
  to.set_allocated_profile(from.has_profile() ? from.release_profile() : nullptr);
  // mutable_ of an empty string field would allocate one.
  if (!from.last_deal_id().empty() || !to.last_deal_id().empty()) {
    to.mutable_last_deal_id()->swap(*from.mutable_last_deal_id());
    from.clear_last_deal_id();
  }
  if (!from.last_deal_currency().empty() || !to.last_deal_currency().empty()) {
    to.mutable_last_deal_currency()->swap(*from.mutable_last_deal_currency());
    from.clear_last_deal_currency();
  }
  to.set_last_deal_amount_minor(from.last_deal_amount_minor());
  to.set_profile_time_ms(from.profile_time_ms());
  to.set_stage_time_ms(from.stage_time_ms());
  from.clear_last_deal_amount_minor();
  from.clear_profile_time_ms();
  from.clear_stage_time_ms();
  to.mutable_crm_seen()->Swap(from.mutable_crm_seen());
  from.clear_crm_seen();
}

// HasCrmPart: whether any of the fields MoveCrmPart moves is set.
bool HasCrmPart(AccountHead& head) {
  AccountHead only_crm;
  MoveCrmPart(head, only_crm);
  const bool has = only_crm.ByteSizeLong() > 0;
  MoveCrmPart(only_crm, head);
  return has;
}

}  // namespace

int64_t Account::DayOf(int64_t time_ms) {
  // Floor division: times before 1970 land on negative days, not on day 0.
  return time_ms >= 0 ? time_ms / kDayMs : -((-time_ms + kDayMs - 1) / kDayMs);
}

absl::StatusOr<Account> Account::Restore(std::vector<StoredPart> parts) {
  Account account;
  std::string* crm = nullptr;
  std::string* contacts = nullptr;
  for (StoredPart& part : parts) {
    if (!part.value.has_value()) continue;
    if (part.kind == StoredPart::Kind::kHead) {
      if (!account.head_.ParseFromString(*part.value)) {
        return absl::DataLossError("stored account head does not parse");
      }
      continue;
    }
    if (part.kind == StoredPart::Kind::kCrm) {
      crm = &*part.value;
      continue;
    }
    if (part.kind == StoredPart::Kind::kContacts) {
      contacts = &*part.value;
      continue;
    }
    std::optional<EngagementDay> day = EngagementDay::Parse(*std::move(part.value));
    if (!day.has_value()) {
      return absl::DataLossError(
          absl::StrCat("stored engagement of day ", part.day, " does not parse"));
    }
    for (int i = 0; i < day->size(); ++i) {
      account.engagement_ids_.insert(StableHash64({day->at(i).event_id()}));
    }
    account.record_count_ += day->size();
    account.days_.emplace(part.day, *std::move(day));
  }
  if (crm != nullptr) {
    // A head stored with its CRM part inside as well (written before the CRM record) holds an
    // older copy: the CRM record wins.
    AccountHead only_crm;
    if (!only_crm.ParseFromString(*crm)) {
      return absl::DataLossError("stored account CRM record does not parse");
    }
    MoveCrmPart(only_crm, account.head_);
    account.stored_crm_ = std::move(*crm);
  } else if (HasCrmPart(account.head_)) {
    // A head stored with its CRM part inside: the next commit stores them apart.
    account.head_dirty_ = true;
    account.crm_dirty_ = true;
  }
  if (contacts != nullptr) {
    // Parsed when first read (see the class comment). A head stored with contacts inside as
    // well (written before its contacts record) holds an older copy: the contacts record wins.
    account.head_.clear_contacts();
    account.stored_contacts_ = std::move(*contacts);
  } else {
    // A head stored with its contacts inside: the next commit stores them apart.
    account.contacts_.Swap(account.head_.mutable_contacts());
    account.contacts_dirty_ = !account.contacts_.empty();
  }
  return account;
}

void Account::LoadContacts() const {
  if (stored_contacts_.empty()) return;
  baton::internal::v1::AccountHead only_contacts;
  if (only_contacts.ParseFromString(stored_contacts_)) {
    contacts_.Swap(only_contacts.mutable_contacts());
  } else {
    contacts_corrupt_ = true;
  }
  std::string().swap(stored_contacts_);
}

std::string Account::SerializeContacts() const {
  // Stored as an AccountHead holding only the contacts, moved in for the moment (a swap of
  // pointers, no copy).
  baton::internal::v1::AccountHead only_contacts;
  only_contacts.mutable_contacts()->Swap(&contacts_);
  std::string bytes = only_contacts.SerializeAsString();
  contacts_.Swap(only_contacts.mutable_contacts());
  return bytes;
}

std::string Account::SerializeHead(std::string* crm) const {
  AccountHead only_crm;
  MoveCrmPart(head_, only_crm);
  std::string bytes = head_.SerializeAsString();
  if (crm != nullptr) *crm = only_crm.SerializeAsString();
  MoveCrmPart(only_crm, head_);
  return bytes;
}

std::vector<StoredPart> Account::TakeChanges() {
  std::vector<StoredPart> changes;
  if (head_dirty_) {  // mutable_crm marks the head too
    changes.push_back(
        {StoredPart::Kind::kHead, 0, SerializeHead(crm_dirty_ ? &stored_crm_ : nullptr)});
    if (crm_dirty_) changes.push_back({StoredPart::Kind::kCrm, 0, stored_crm_});
  }
  if (contacts_dirty_ && !contacts_corrupt_) {
    changes.push_back({StoredPart::Kind::kContacts, 0, SerializeContacts()});
  }
  for (int64_t day : dropped_days_) {
    if (!days_.contains(day)) changes.push_back({StoredPart::Kind::kDay, day, std::nullopt});
  }
  for (int64_t day : dirty_days_) {
    auto it = days_.find(day);
    if (it != days_.end()) {
      changes.push_back({StoredPart::Kind::kDay, day, it->second.bytes()});
    }
  }
  head_dirty_ = false;
  crm_dirty_ = false;
  contacts_dirty_ = false;
  dirty_days_.clear();
  dropped_days_.clear();
  return changes;
}

std::vector<StoredPart> Account::Release() && {
  std::vector<StoredPart> parts;
  parts.reserve(3 + days_.size());
  std::string crm;
  parts.push_back({StoredPart::Kind::kHead, 0, SerializeHead(crm_dirty_ ? &crm : nullptr)});
  if (!crm_dirty_) crm = std::move(stored_crm_);
  if (!crm.empty()) parts.push_back({StoredPart::Kind::kCrm, 0, std::move(crm)});
  if (!stored_contacts_.empty()) {
    parts.push_back({StoredPart::Kind::kContacts, 0, std::move(stored_contacts_)});
  } else if (!contacts_.empty()) {
    parts.push_back({StoredPart::Kind::kContacts, 0, SerializeContacts()});
  }
  for (auto& [day, records] : days_) {
    parts.push_back({StoredPart::Kind::kDay, day, std::move(records).Release()});
  }
  return parts;
}

void Account::AddEngagement(const NewEngagement& record, uint64_t event_id_hash) {
  const int64_t day_number = DayOf(record.time_ms);
  engagement_ids_.insert(event_id_hash);
  ++record_count_;
  dirty_days_.insert(day_number);
  days_.try_emplace(day_number, day_number).first->second.Add(record);
}

void Account::DropEngagementUpTo(int64_t horizon_ms, int max_records) {
  auto drop_day = [this](std::map<int64_t, EngagementDay>::iterator it) {
    const EngagementDay& day = it->second;
    for (int i = 0; i < day.size(); ++i)
      engagement_ids_.erase(StableHash64({day.at(i).event_id()}));
    record_count_ -= day.size();
    dropped_days_.push_back(it->first);
    dirty_days_.erase(it->first);
    return days_.erase(it);
  };
  // Whole days that ended at or before the horizon.
  while (!days_.empty() && (days_.begin()->first + 1) * kDayMs - 1 <= horizon_ms) {
    drop_day(days_.begin());
  }
  // The oldest days while over the bound: a bounded account forgets its oldest engagement first.
  while (record_count_ > max_records && days_.size() > 1) drop_day(days_.begin());
  // Within the horizon's own day, expired records stay until the day goes: windows skip them.
}

}  // namespace baton::core
