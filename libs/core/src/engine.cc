#include "baton/core/engine.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "baton/core/account.h"
#include "baton/core/ids.h"
#include "baton/core/rules.h"
#include "baton/core/url.h"
#include "text.h"

namespace baton::core {
namespace {

using baton::internal::v1::AccountHead;
using baton::internal::v1::ContactState;
using baton::internal::v1::EngagementRecord;
using baton::internal::v1::HandoffRecord;
using baton::v1::CrmEvent;
using baton::v1::EngagementEvent;

// The earliest event time Baton accepts; anything before is a broken producer clock.
const absl::Time kEarliestEventTime = absl::FromUnixSeconds(946684800);  // 2000-01-01T00:00:00Z

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

// ContactKey is how an engagement record names its contact: the CRM contact id, else the contact
// known by that email, else the email itself.
std::string ContactKey(const EngagementEvent& e, const AccountHead& head) {
  if (!e.contact_id().empty()) return e.contact_id();
  if (e.contact_email().empty()) return {};
  for (const ContactState& c : head.contacts()) {
    if (absl::EqualsIgnoreCase(c.email(), e.contact_email())) return c.contact_id();
  }
  return absl::AsciiStrToLower(e.contact_email());
}

const ContactState* FindContact(const AccountHead& head, absl::string_view contact_key) {
  for (const ContactState& c : head.contacts()) {
    if (c.contact_id() == contact_key) return &c;
  }
  return nullptr;
}

void ApplyEngagement(const EngagementEvent& e, uint64_t id_hash, Account& account,
                     absl::Duration retention, Effects& effects) {
  const int64_t t_ms = Millis(ToTime(e.event_time()));
  const int64_t watermark = account.head().watermark_ms();
  if (watermark != 0 && t_ms <= watermark - absl::ToInt64Milliseconds(retention)) {
    effects.late = true;
    return;
  }
  EngagementRecord record;
  record.set_event_id(e.event_id());
  record.set_type(e.type());
  record.set_time_ms(t_ms);
  record.set_contact_id(ContactKey(e, account.head()));
  record.set_url(e.url());
  record.set_campaign_id(e.campaign_id());
  record.set_content_id(e.content_id());
  record.set_pricing_page(e.type() == baton::v1::PAGE_VISIT && IsPricingPage(e.url()));
  record.set_matched_by(e.matched_by() == baton::v1::MATCH_METHOD_UNSPECIFIED
                            ? baton::v1::ACCOUNT_ID
                            : e.matched_by());
  account.AddEngagement(std::move(record), id_hash);
  AccountHead& head = account.mutable_head();
  head.set_last_marketing_touch_ms(std::max(head.last_marketing_touch_ms(), t_ms));
}

void ApplyCrm(const CrmEvent& e, AccountHead& state) {
  const int64_t t_ms = Millis(ToTime(e.event_time()));
  switch (e.payload_case()) {
    case CrmEvent::kAccountUpsert:
      if (!state.has_profile() || t_ms >= state.profile_time_ms()) {
        *state.mutable_profile() = e.account_upsert();
        state.set_profile_time_ms(t_ms);
        state.set_stage_time_ms(t_ms);
      }
      break;
    case CrmEvent::kContactUpsert: {
      const auto& u = e.contact_upsert();
      ContactState* contact = nullptr;
      for (auto& c : *state.mutable_contacts()) {
        if (c.contact_id() == u.contact_id()) contact = &c;
      }
      if (contact == nullptr) contact = state.add_contacts();
      if (contact->contact_id().empty() || t_ms >= contact->updated_ms()) {
        contact->set_contact_id(u.contact_id());
        contact->set_email(u.email());
        contact->set_full_name(u.full_name());
        contact->set_title(u.title());
        contact->set_role(u.role());
        contact->set_updated_ms(t_ms);
      }
      break;
    }
    case CrmEvent::kDealStageChange: {
      const auto& d = e.deal_stage_change();
      if (t_ms >= state.stage_time_ms()) {
        state.mutable_profile()->set_stage(d.stage());
        state.set_stage_time_ms(t_ms);
        state.set_last_deal_id(d.deal_id());
        state.set_last_deal_amount_minor(d.amount_minor());
        state.set_last_deal_currency(d.currency());
      }
      break;
    }
    case CrmEvent::kSalesActivity:
      if (!e.sales_activity().automated()) {
        state.set_last_sales_touch_ms(std::max(state.last_sales_touch_ms(), t_ms));
      }
      break;
    case CrmEvent::kHandoffDisposition: {
      const auto& d = e.handoff_disposition();
      for (auto& h : *state.mutable_handoffs()) {
        if (h.handoff_id() != d.handoff_id() || h.status() != baton::internal::v1::OPEN) {
          continue;
        }
        h.set_status(d.disposition() == baton::v1::ACCEPTED ? baton::internal::v1::ACCEPTED
                                                            : baton::internal::v1::REJECTED);
        h.set_rejection_reason(d.reason());
        h.set_closed_at_ms(t_ms);
      }
      break;
    }
    case CrmEvent::PAYLOAD_NOT_SET:
      break;
  }
}

baton::v1::TriggerEvent ToTrigger(const EngagementRecord& r) {
  baton::v1::TriggerEvent t;
  t.set_event_id(r.event_id());
  t.set_type(r.type());
  *t.mutable_event_time() = MillisToTimestamp(r.time_ms());
  t.set_contact_id(r.contact_id());
  t.set_url(r.url());
  t.set_campaign_id(r.campaign_id());
  t.set_content_id(r.content_id());
  t.set_matched_by(r.matched_by());
  return t;
}

baton::v1::EngagementSummary Summarize(const Account& account, absl::Duration window,
                                       const RuleSet& rules) {
  const AccountHead& state = account.head();
  baton::v1::EngagementSummary s;
  s.set_window_days(static_cast<int32_t>(absl::ToInt64Hours(window) / 24));
  const int64_t now = state.watermark_ms();
  const int64_t lower = now - absl::ToInt64Milliseconds(window);
  std::set<absl::string_view> contacts;
  std::set<int> roles;
  std::map<int, std::pair<int64_t, std::set<absl::string_view>>> role_engagement;
  account.ForEachRecord(lower, now, [&](const EngagementRecord& r) {
    switch (r.type()) {
      case baton::v1::EMAIL_OPEN:
        s.set_email_opens(s.email_opens() + 1);
        break;
      case baton::v1::EMAIL_CLICK:
        s.set_email_clicks(s.email_clicks() + 1);
        break;
      case baton::v1::PAGE_VISIT:
        s.set_page_visits(s.page_visits() + 1);
        if (r.pricing_page()) s.set_pricing_page_visits(s.pricing_page_visits() + 1);
        break;
      case baton::v1::CONTENT_DOWNLOAD:
        s.set_content_downloads(s.content_downloads() + 1);
        break;
      case baton::v1::WEBINAR_REGISTRATION:
      case baton::v1::WEBINAR_ATTENDANCE:
        s.set_webinar_events(s.webinar_events() + 1);
        break;
      case baton::v1::FORM_FILL:
        s.set_form_fills(s.form_fills() + 1);
        break;
      case baton::v1::INTENT_SIGNAL:
        s.set_intent_signals(s.intent_signals() + 1);
        break;
      case baton::v1::REPLY:
        s.set_replies(s.replies() + 1);
        break;
      case baton::v1::MEETING_REQUEST:
      case baton::v1::MEETING_HELD:
        s.set_meetings(s.meetings() + 1);
        break;
      default:
        break;
    }
    if (r.contact_id().empty()) return;
    contacts.insert(r.contact_id());
    if (const ContactState* c = FindContact(state, r.contact_id());
        c != nullptr && c->role() != baton::v1::BUYING_GROUP_ROLE_UNSPECIFIED) {
      roles.insert(c->role());
      auto& [last, role_contacts] = role_engagement[c->role()];
      last = std::max(last, r.time_ms());
      role_contacts.insert(c->contact_id());
    }
  });
  s.set_engaged_contacts(static_cast<int32_t>(contacts.size()));
  for (int role : roles) s.add_roles_engaged(static_cast<baton::v1::BuyingGroupRole>(role));
  for (const auto& [role, engaged] : role_engagement) {
    auto* e = s.add_role_engagement();
    e->set_role(static_cast<baton::v1::BuyingGroupRole>(role));
    *e->mutable_last_engaged() = MillisToTimestamp(engaged.first);
    e->set_contacts(static_cast<int32_t>(engaged.second.size()));
  }
  s.set_engagement_score(rules.Score(account));
  if (state.last_marketing_touch_ms() != 0) {
    *s.mutable_last_marketing_touch() = MillisToTimestamp(state.last_marketing_touch_ms());
  }
  if (state.last_sales_touch_ms() != 0) {
    *s.mutable_last_sales_touch() = MillisToTimestamp(state.last_sales_touch_ms());
  }
  return s;
}

// Route picks who takes a handoff: a sales-ready account goes to its AE; an early signal to its
// SDR, else its AE. Returns the assignee and role, or empty when nobody can take it.
std::pair<std::string, std::string> Route(const baton::config::v1::Rule& rule,
                                          const baton::v1::AccountUpsert& profile) {
  const auto& owners = profile.owners();
  if (rule.level() == baton::v1::EARLY_SIGNAL && !owners.sdr_id().empty()) {
    return {owners.sdr_id(), "SDR"};
  }
  if (!owners.ae_id().empty()) return {owners.ae_id(), "AE"};
  return {};
}

// Handoff builds the outputs of a rule that fired and records the handoff in the account.
void Handoff(const baton::config::v1::Rule& rule, const RuleMatch& match, const RuleSet& rules,
             const InputEvent& cause, Account& account, const EngineOptions& opts,
             Effects& effects) {
  AccountHead& state = account.mutable_head();
  const auto& profile = state.profile();
  const std::string handoff_id = HandoffId(state.account_id(), rule.name(), EventIdOf(cause));
  const std::string reason = absl::StrJoin(match.facts, "; ");
  const std::string level =
      rule.level() == baton::v1::SALES_READY ? "sales-ready" : "showing an early signal";

  HandoffRecord* record = state.add_handoffs();
  record->set_handoff_id(handoff_id);
  record->set_rule_name(rule.name());
  record->set_fired_at_ms(state.watermark_ms());
  record->set_level(rule.level());
  // Keep only the latest handoff per rule: the cooldown needs nothing older.
  auto* handoffs = state.mutable_handoffs();
  for (int i = handoffs->size() - 2; i >= 0; --i) {
    if (handoffs->Get(i).rule_name() == rule.name()) handoffs->DeleteSubrange(i, 1);
  }

  baton::v1::Alert alert;
  alert.set_account_id(state.account_id());
  alert.set_account_name(profile.name());
  alert.set_handoff_id(handoff_id);
  alert.set_tier(profile.tier());
  alert.set_rule_name(rule.name());
  *alert.mutable_occurred_at() = ToTimestamp(EventTimeOf(cause));

  const auto [assignee, role] = Route(rule, profile);
  if (assignee.empty()) {
    record->set_status(baton::internal::v1::ROUTING_FAILED);
    alert.set_alert_id(AlertId("routing_failure", handoff_id));
    alert.set_kind(baton::v1::ROUTING_FAILURE);
    alert.set_severity(baton::v1::CRITICAL);
    const std::string& owner = profile.owners().marketing_owner_id();
    alert.add_recipients(owner.empty() ? opts.unrouted_queue : owner);
    alert.set_summary(absl::StrCat(
        profile.name(), " (", TierName(profile.tier()), ") is ", level, " but has no ",
        rule.level() == baton::v1::EARLY_SIGNAL ? "SDR or AE" : "AE", " to route to: ", reason));
    effects.alerts.push_back(std::move(alert));
    return;
  }
  record->set_status(baton::internal::v1::OPEN);
  record->set_assignee_id(assignee);

  baton::v1::RoutedLead lead;
  lead.set_lead_id(LeadId(handoff_id));
  lead.set_handoff_id(handoff_id);
  lead.set_account_id(state.account_id());
  lead.set_account_name(profile.name());
  lead.set_tier(profile.tier());
  lead.set_selection_reason(profile.selection_reason());
  lead.set_icp_fit(profile.icp_fit());
  lead.set_stage(profile.stage());
  lead.set_assignee_id(assignee);
  lead.set_assignee_role(role);
  lead.add_routing_path(absl::StrCat(TierName(profile.tier()), " ",
                                     baton::v1::QualificationLevel_Name(rule.level()),
                                     " -> account ", role, " ", assignee));
  lead.set_rule_name(rule.name());
  lead.set_rule_version(rules.version());
  lead.set_qualification_level(rule.level());
  lead.set_reason(reason);
  for (const EngagementRecord* r : match.triggers) *lead.add_trigger_events() = ToTrigger(*r);
  auto* contact = lead.mutable_contact();
  contact->set_contact_id(match.contact);
  if (const ContactState* c = FindContact(state, match.contact)) {
    contact->set_email(c->email());
    contact->set_full_name(c->full_name());
    contact->set_title(c->title());
    contact->set_role(c->role());
  } else if (match.contact.find('@') != std::string::npos) {
    contact->set_email(match.contact);
  }
  *lead.mutable_engagement() = Summarize(account, match.summary_window, rules);
  lead.set_recommended_message(absl::StrReplaceAll(
      rule.message(), {{"{account_name}", profile.name()},
                       {"{tier}", TierName(profile.tier())},
                       {"{stage}", rules.CanonicalStage(profile.stage())},
                       {"{contact_title}", contact->title().empty() ? "contact" : contact->title()},
                       {"{contact_role}", RoleName(contact->role())},
                       {"{reason}", reason},
                       {"{rule}", rule.name()}}));
  *lead.mutable_triggered_at() = ToTimestamp(EventTimeOf(cause));
  *lead.mutable_owners() = profile.owners();

  alert.set_alert_id(AlertId("handoff", handoff_id));
  alert.set_kind(baton::v1::HANDOFF);
  alert.set_severity(baton::v1::INFO);
  alert.add_recipients(assignee);
  alert.set_summary(absl::StrCat(profile.name(), " (", TierName(profile.tier()), ") is ", level,
                                 " for ", role, " ", assignee, ": ", reason));
  effects.leads.push_back(std::move(lead));
  effects.alerts.push_back(std::move(alert));
}

// Blocked is true when `rule` may not fire now: an open handoff at the same or a higher level
// (a higher level may upgrade an open early signal), or the rule's own cooldown.
bool Blocked(const baton::config::v1::Rule& rule, const RuleSet& rules, const AccountHead& head) {
  for (const HandoffRecord& h : head.handoffs()) {
    if (h.status() == baton::internal::v1::OPEN && h.level() >= rule.level()) return true;
    if (h.rule_name() == rule.name() &&
        head.watermark_ms() - h.fired_at_ms() < absl::ToInt64Milliseconds(rules.cooldown(rule))) {
      return true;
    }
  }
  return false;
}

}  // namespace

Engine::Engine(EngineOptions options, std::shared_ptr<const RuleSet> rules, const Clock& clock)
    : options_(std::move(options)), rules_(std::move(rules)), clock_(clock) {}

void Engine::SetRules(std::shared_ptr<const RuleSet> rules) { rules_ = std::move(rules); }

absl::StatusOr<Effects> Engine::Apply(const InputEvent& event, Account& account) const {
  const absl::Time t = EventTimeOf(event);
  if (t < kEarliestEventTime) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad_timestamp: event_time ", absl::FormatTime(t), " is before 2000"));
  }
  if (t > clock_.Now() + options_.max_future_skew) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad_timestamp: event_time ", absl::FormatTime(t), " is in the future"));
  }
  Effects effects;
  const uint64_t id_hash = StableHash64({EventIdOf(event)});
  const auto* engagement = std::get_if<EngagementEvent>(&event);
  const auto& crm_seen = account.head().crm_seen();
  if (engagement != nullptr
          ? account.HasEngagement(id_hash)
          : std::find(crm_seen.begin(), crm_seen.end(), id_hash) != crm_seen.end()) {
    effects.duplicate = true;
    return effects;
  }
  if (account.head().account_id().empty()) {
    account.mutable_head().set_account_id(std::string(AccountIdOf(event)));
  }
  if (engagement != nullptr) {
    ApplyEngagement(*engagement, id_hash, account, rules_->retention(), effects);
    if (effects.late) return effects;
  } else {
    AccountHead& head = account.mutable_head();
    ApplyCrm(std::get<CrmEvent>(event), head);
    head.add_crm_seen(id_hash);
    const int over = head.crm_seen_size() - options_.max_seen_crm_events;
    if (over > 0)
      head.mutable_crm_seen()->erase(head.crm_seen().begin(), head.crm_seen().begin() + over);
  }
  AccountHead& head = account.mutable_head();
  head.set_watermark_ms(std::max(head.watermark_ms(), absl::ToUnixMillis(t)));
  account.DropEngagementUpTo(head.watermark_ms() - absl::ToInt64Milliseconds(rules_->retention()),
                             options_.max_engagement_records);

  // The first rule by priority that holds and is not blocked makes the handoff.
  const RuleSet& rules = *rules_;
  for (int index : rules.order()) {
    const baton::config::v1::Rule& rule = rules.file().rules(index);
    if (Blocked(rule, rules, account.head())) continue;
    if (std::optional<RuleMatch> match = rules.Evaluate(rule, account)) {
      Handoff(rule, *match, rules, event, account, options_, effects);
      break;
    }
  }
  return effects;
}

}  // namespace baton::core
