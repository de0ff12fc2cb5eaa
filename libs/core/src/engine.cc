#include "baton/core/engine.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
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
#include "baton/core/routing.h"
#include "baton/core/rules.h"
#include "baton/core/url.h"
#include "text.h"

namespace baton::core {
namespace {

using baton::internal::v1::AccountHead;
using baton::internal::v1::ContactState;
using baton::internal::v1::HandoffRecord;
using baton::v1::CrmEvent;
using baton::v1::EngagementEvent;

// The earliest event time Baton accepts; anything before is a broken producer clock.
const absl::Time kEarliestEventTime = absl::FromUnixSeconds(946684800);  // 2000-01-01T00:00:00Z

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

// ContactKey is how an engagement record names its contact: the CRM contact id, else the contact
// known by that email, else the email itself.
std::string ContactKey(const EngagementEvent& e, const Account& account) {
  if (!e.contact_id().empty()) return e.contact_id();
  if (e.contact_email().empty()) return {};
  for (const ContactState& c : account.contacts()) {
    if (absl::EqualsIgnoreCase(c.email(), e.contact_email())) return c.contact_id();
  }
  return absl::AsciiStrToLower(e.contact_email());
}

const ContactState* FindContact(const Account& account, absl::string_view contact_key) {
  for (const ContactState& c : account.contacts()) {
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
  const std::string contact = ContactKey(e, account);
  NewEngagement record;
  record.event_id = e.event_id();
  record.type = e.type();
  record.time_ms = t_ms;
  record.contact_id = contact;
  record.url = e.url();
  record.campaign_id = e.campaign_id();
  record.content_id = e.content_id();
  record.pricing_page = e.type() == baton::v1::PAGE_VISIT && IsPricingPage(e.url());
  record.matched_by = e.matched_by() == baton::v1::MATCH_METHOD_UNSPECIFIED ? baton::v1::ACCOUNT_ID
                                                                            : e.matched_by();
  account.AddEngagement(record, id_hash);
  AccountHead& head = account.mutable_head();
  head.set_last_marketing_touch_ms(std::max(head.last_marketing_touch_ms(), t_ms));
}

void ApplyCrm(const CrmEvent& e, Account& account) {
  AccountHead& state = account.mutable_crm();
  const int64_t t_ms = Millis(ToTime(e.event_time()));
  switch (e.payload_case()) {
    case CrmEvent::kAccountUpsert:
      if (!state.has_profile() || t_ms >= state.profile_time_ms()) {
        // Time in stage counts from the change of stage, not from every upsert.
        const std::string stage = state.profile().stage();
        const bool had_profile = state.has_profile();
        *state.mutable_profile() = e.account_upsert();
        state.set_profile_time_ms(t_ms);
        if (t_ms < state.stage_time_ms()) {
          // A later deal stage change stands over an older upsert's stage.
          state.mutable_profile()->set_stage(stage);
        } else if (!had_profile || stage != e.account_upsert().stage()) {
          state.set_stage_time_ms(t_ms);
        }
      }
      break;
    case CrmEvent::kContactUpsert: {
      const auto& u = e.contact_upsert();
      ContactState* contact = nullptr;
      auto& contacts = account.mutable_contacts();
      for (auto& c : contacts) {
        if (c.contact_id() == u.contact_id()) contact = &c;
      }
      if (contact == nullptr) contact = contacts.Add();
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
    case CrmEvent::kSalesActivity: {
      const auto& a = e.sales_activity();
      if (!a.automated()) {
        state.set_last_sales_touch_ms(std::max(state.last_sales_touch_ms(), t_ms));
        if (a.kind() == baton::v1::CALL || a.kind() == baton::v1::MEETING) {
          state.set_last_conversation_ms(std::max(state.last_conversation_ms(), t_ms));
        }
      }
      break;
    }
    // Dispositions, outreach plans and rep status are applied by the engine itself (they route,
    // alert and touch the team).
    case CrmEvent::kHandoffDisposition:
    case CrmEvent::kOutreachPlan:
    case CrmEvent::kRepStatus:
    case CrmEvent::PAYLOAD_NOT_SET:
      break;
  }
}

baton::v1::TriggerEvent ToTrigger(Engagement r) {
  baton::v1::TriggerEvent t;
  t.set_event_id(std::string(r.event_id()));
  t.set_type(r.type());
  *t.mutable_event_time() = MillisToTimestamp(r.time_ms());
  t.set_contact_id(std::string(r.contact_id()));
  t.set_url(std::string(r.url()));
  t.set_campaign_id(std::string(r.campaign_id()));
  t.set_content_id(std::string(r.content_id()));
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
  account.ForEachRecord(lower, now, [&](Engagement r) {
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
    if (const ContactState* c = FindContact(account, r.contact_id());
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

// Ctx is what the engine's steps share while applying one event or expiring timers.
struct Ctx {
  const RuleSet& rules;
  const EngineOptions& opts;
  Account& account;
  Team& team;
  Effects& effects;

  const Policy& policy() const { return rules.policy(); }
  AccountHead& head() { return account.mutable_head(); }
};

using baton::internal::v1::SlaState;

std::string FormatMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// AssignmentCause names one assignment of a handoff in alert ids: the handoff id for the first,
// "<handoff id>:<n>" for the n-th reassignment.
std::string AssignmentCause(const HandoffRecord& h) {
  return h.assignment() == 0 ? h.handoff_id() : absl::StrCat(h.handoff_id(), ":", h.assignment());
}

baton::v1::Alert NewAlert(const AccountHead& head, const HandoffRecord* h,
                          baton::v1::AlertKind kind, baton::v1::Severity severity, int64_t at_ms) {
  baton::v1::Alert alert;
  alert.set_kind(kind);
  alert.set_severity(severity);
  alert.set_account_id(head.account_id());
  alert.set_account_name(head.profile().name());
  alert.set_tier(head.profile().tier());
  *alert.mutable_occurred_at() = MillisToTimestamp(at_ms);
  if (h != nullptr) {
    alert.set_handoff_id(h->handoff_id());
    alert.set_rule_name(h->rule_name());
    alert.set_assignee_id(h->assignee_id());
    if (h->sla().deadline_ms() != 0) {
      *alert.mutable_sla_deadline() = MillisToTimestamp(h->sla().deadline_ms());
    }
  }
  return alert;
}

// AddRecipients adds each non-empty id once; with none, the marketing owner, else the
// unrouted queue, so that no alert goes nowhere.
void AddRecipients(baton::v1::Alert& alert, const std::vector<std::string>& ids,
                   const AccountHead& head, const EngineOptions& opts) {
  for (const std::string& id : ids) {
    if (id.empty()) continue;
    if (std::find(alert.recipients().begin(), alert.recipients().end(), id) ==
        alert.recipients().end()) {
      alert.add_recipients(id);
    }
  }
  if (alert.recipients().empty()) {
    const std::string& owner = head.profile().owners().marketing_owner_id();
    alert.add_recipients(owner.empty() ? opts.unrouted_queue : owner);
  }
}

std::string RepRelation(const Policy& policy, absl::string_view rep, bool backup) {
  const baton::config::v1::Rep* r = policy.Rep(rep);
  if (r == nullptr) return {};
  return backup ? r->backup() : r->manager();
}

std::string Resolve(const Ctx& ctx, const HandoffRecord& h, baton::config::v1::Recipient r,
                    const AccountHead& head) {
  const auto& owners = head.profile().owners();
  switch (r) {
    case baton::config::v1::ASSIGNEE:
      return h.assignee_id();
    case baton::config::v1::MANAGER:
      return RepRelation(ctx.policy(), h.assignee_id(), false);
    case baton::config::v1::BACKUP:
      return RepRelation(ctx.policy(), h.assignee_id(), true);
    case baton::config::v1::ACCOUNT_AE:
      return owners.ae_id();
    case baton::config::v1::ACCOUNT_SDR:
      return owners.sdr_id();
    case baton::config::v1::ACCOUNT_MARKETING_OWNER:
      return owners.marketing_owner_id();
    default:
      return {};
  }
}

bool IsQueue(const HandoffRecord& h) { return h.assignee_role() == "QUEUE"; }

// ArmSla starts the follow-up clock of the handoff's current assignment at `from_ms`, when a
// policy applies to it and a rep (not a queue) holds it.
void ArmSla(Ctx& ctx, HandoffRecord& h, int64_t from_ms) {
  // A reassignment keeps the policy agreed when the handoff was made, and its place in the
  // escalation chain.
  std::optional<baton::config::v1::SlaPolicy> policy;
  if (h.assignment() > 0) {
    if (h.sla().has_policy()) policy = h.sla().policy();
  } else if (const auto* p = ctx.policy().SlaFor(h.tier(), h.level())) {
    policy = *p;
  }
  SlaState* sla = h.mutable_sla();
  const int next_step = sla->next_step();
  sla->Clear();
  sla->set_next_step(next_step);
  if (!policy || IsQueue(h) || h.assignee_id().empty()) return;
  const BusinessCalendar calendar =
      ctx.policy().CalendarFor(h.assignee_id(), ctx.team.Rep(h.assignee_id()));
  const absl::Time from = absl::FromUnixMillis(from_ms);
  const absl::Duration first = ToDuration(policy->first_follow_up());
  *sla->mutable_policy() = *policy;
  sla->set_status(baton::internal::v1::ARMED);
  sla->set_deadline_ms(absl::ToUnixMillis(calendar.Add(from, first)));
  if (policy->remind_at() > 0) {
    sla->set_reminder_ms(absl::ToUnixMillis(calendar.Add(from, first * policy->remind_at())));
  }
}

// EndSla stops the clock: `outcome` is "met" or "cancelled" for an armed SLA; after a breach
// it only stops the escalation.
void EndSla(Ctx& ctx, HandoffRecord& h, int64_t at_ms, bool follow_up) {
  SlaState* sla = h.mutable_sla();
  if (sla->status() == baton::internal::v1::ARMED) {
    sla->set_status(follow_up && at_ms <= sla->deadline_ms() ? baton::internal::v1::MET
                                                             : baton::internal::v1::CANCELLED);
    ctx.effects.sla_outcomes.push_back(sla->status() == baton::internal::v1::MET ? "met"
                                                                                 : "cancelled");
  } else if (sla->status() != baton::internal::v1::BREACHED || sla->escalation_done()) {
    return;
  }
  sla->set_escalation_done(true);
  sla->set_reminder_ms(0);
  sla->set_next_step_ms(0);
  sla->set_ended_ms(at_ms);
  if (follow_up)
    ctx.effects.follow_up_times.push_back(absl::Milliseconds(at_ms - h.assigned_at_ms()));
}

// Close ends an open handoff (accepted, rejected, superseded): it no longer counts against its
// assignee's cap, and its stored lead is no longer needed.
void Close(Ctx& ctx, HandoffRecord& h, baton::internal::v1::HandoffStatus status, int64_t at_ms) {
  if (h.status() == baton::internal::v1::OPEN && !IsQueue(h)) ctx.team.AddOpen(h.assignee_id(), -1);
  h.set_status(status);
  h.set_closed_at_ms(at_ms);
}

// FillLead fills what a lead says about the account and its assignee.
void FillAssignee(baton::v1::RoutedLead& lead, const HandoffRecord& h, const RouteDecision& d) {
  lead.set_assignee_id(d.assignee);
  lead.set_assignee_role(d.role);
  lead.clear_routing_path();
  for (const std::string& step : d.path) lead.add_routing_path(step);
  lead.clear_sla_deadline();
  if (h.sla().deadline_ms() != 0) {
    *lead.mutable_sla_deadline() = MillisToTimestamp(h.sla().deadline_ms());
  }
}

std::string SlaPhrase(const HandoffRecord& h) {
  if (h.sla().deadline_ms() == 0) return "";
  return absl::StrCat("; follow up by ", FormatMs(h.sla().deadline_ms()));
}

// Handoff builds the outputs of a rule that fired, routes it and records it in the account.
void Handoff(Ctx& ctx, const baton::config::v1::Rule& rule, const RuleMatch& match,
             const InputEvent& cause) {
  AccountHead& state = ctx.head();
  const auto& profile = state.profile();
  const RuleSet& rules = ctx.rules;
  const std::string handoff_id = HandoffId(state.account_id(), rule.name(), EventIdOf(cause));
  const std::string reason = absl::StrJoin(match.facts, "; ");
  const std::string level =
      rule.level() == baton::v1::SALES_READY ? "sales-ready" : "showing an early signal";
  const int64_t now_ms = Millis(EventTimeOf(cause));

  // A higher level replaces an open lower-level handoff (an early signal upgraded).
  for (HandoffRecord& h : *state.mutable_handoffs()) {
    if (h.status() == baton::internal::v1::OPEN && h.level() < rule.level()) {
      EndSla(ctx, h, now_ms, /*follow_up=*/false);
      Close(ctx, h, baton::internal::v1::SUPERSEDED, now_ms);
      h.clear_lead();
    }
  }

  HandoffRecord* record = state.add_handoffs();
  record->set_handoff_id(handoff_id);
  record->set_rule_name(rule.name());
  record->set_fired_at_ms(state.watermark_ms());
  record->set_level(rule.level());
  record->set_tier(profile.tier());
  // Keep only the latest handoff per rule: the cooldown needs nothing older, and an older one
  // of the same rule is closed (an open one would have blocked this one).
  auto* handoffs = state.mutable_handoffs();
  for (int i = handoffs->size() - 2; i >= 0; --i) {
    if (handoffs->Get(i).rule_name() == rule.name()) handoffs->DeleteSubrange(i, 1);
  }
  record = &handoffs->at(handoffs->size() - 1);

  const RouteDecision d =
      Route(ctx.policy(), ctx.team, ctx.policy().RouteFor(profile.tier(), rule.level()),
            profile.owners(), EventTimeOf(cause));
  baton::v1::Alert alert = NewAlert(state, record, baton::v1::HANDOFF, baton::v1::INFO, now_ms);
  *alert.mutable_occurred_at() = ToTimestamp(EventTimeOf(cause));

  if (d.assignee.empty()) {
    record->set_status(baton::internal::v1::ROUTING_FAILED);
    alert.set_alert_id(AlertId("routing_failure", handoff_id));
    alert.set_kind(baton::v1::ROUTING_FAILURE);
    alert.set_severity(baton::v1::CRITICAL);
    AddRecipients(alert, {profile.owners().marketing_owner_id()}, state, ctx.opts);
    alert.set_summary(absl::StrCat(profile.name(), " (", TierName(profile.tier()), ") is ", level,
                                   " but nobody can take it (", absl::StrJoin(d.path, "; "),
                                   "): ", reason));
    ctx.effects.alerts.push_back(std::move(alert));
    return;
  }
  record->set_status(baton::internal::v1::OPEN);
  record->set_assignee_id(d.assignee);
  record->set_assignee_role(d.role);
  record->set_assigned_at_ms(now_ms);
  if (!d.queue) ctx.team.AddOpen(d.assignee, +1);
  ArmSla(ctx, *record, now_ms);

  baton::v1::RoutedLead lead;
  lead.set_lead_id(LeadId(handoff_id));
  lead.set_handoff_id(handoff_id);
  lead.set_account_id(state.account_id());
  lead.set_account_name(profile.name());
  lead.set_tier(profile.tier());
  lead.set_selection_reason(profile.selection_reason());
  lead.set_icp_fit(profile.icp_fit());
  lead.set_stage(profile.stage());
  RouteDecision shown = d;
  shown.path.insert(shown.path.begin(),
                    absl::StrCat(TierName(profile.tier()), " ",
                                 baton::v1::QualificationLevel_Name(rule.level())));
  FillAssignee(lead, *record, shown);
  lead.set_rule_name(rule.name());
  lead.set_rule_version(rules.version());
  lead.set_qualification_level(rule.level());
  lead.set_reason(reason);
  for (Engagement r : match.triggers) *lead.add_trigger_events() = ToTrigger(r);
  auto* contact = lead.mutable_contact();
  contact->set_contact_id(match.contact);
  if (const ContactState* c = FindContact(ctx.account, match.contact)) {
    contact->set_email(c->email());
    contact->set_full_name(c->full_name());
    contact->set_title(c->title());
    contact->set_role(c->role());
  } else if (match.contact.find('@') != std::string::npos) {
    contact->set_email(match.contact);
  }
  *lead.mutable_engagement() = Summarize(ctx.account, match.summary_window, rules);
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
  *record->mutable_lead() = lead;

  alert.set_alert_id(AlertId("handoff", handoff_id));
  alert.set_assignee_id(d.assignee);
  // The alert was started before the SLA was armed.
  if (record->sla().deadline_ms() != 0) {
    *alert.mutable_sla_deadline() = MillisToTimestamp(record->sla().deadline_ms());
  }
  AddRecipients(alert, {d.assignee}, state, ctx.opts);
  alert.set_summary(absl::StrCat(profile.name(), " (", TierName(profile.tier()), ") is ", level,
                                 " for ", d.role, " ", d.assignee, ": ", reason,
                                 SlaPhrase(*record)));
  ctx.effects.leads.push_back(std::move(lead));
  ctx.effects.alerts.push_back(std::move(alert));
}

// Recycle sends a rejected account back to nurture: a lead for the recycle queue with the
// handoff's context, and no new handoff until the cooldown has passed.
void Recycle(Ctx& ctx, HandoffRecord& h, const baton::v1::HandoffDisposition& d, int64_t at_ms) {
  AccountHead& head = ctx.head();
  head.set_recycled_until_ms(
      std::max(head.recycled_until_ms(),
               at_ms + absl::ToInt64Milliseconds(ctx.policy().recycle_cooldown())));
  baton::v1::RoutedLead lead = h.lead();
  lead.set_lead_id(absl::StrCat(LeadId(h.handoff_id()), ":recycle"));
  lead.set_previous_assignee_id(h.assignee_id());
  RouteDecision to;
  to.assignee = ctx.policy().recycle_queue();
  to.role = "QUEUE";
  to.path = {absl::StrCat("rejected by ", d.rep_id().empty() ? h.assignee_id() : d.rep_id(), " (",
                          d.reason() == baton::v1::REJECTION_REASON_UNSPECIFIED
                              ? "no reason"
                              : baton::v1::RejectionReason_Name(d.reason()),
                          ")"),
             absl::StrCat("recycle queue ", to.assignee)};
  HandoffRecord none;
  FillAssignee(lead, none, to);
  ctx.effects.leads.push_back(std::move(lead));
}

void ApplyDisposition(Ctx& ctx, const baton::v1::HandoffDisposition& d, int64_t t_ms) {
  AccountHead& head = ctx.head();
  for (HandoffRecord& h : *head.mutable_handoffs()) {
    if (h.handoff_id() != d.handoff_id() || h.status() != baton::internal::v1::OPEN) continue;
    if (d.disposition() == baton::v1::ACCEPTED) {
      ++ctx.effects.accepted;
      EndSla(ctx, h, t_ms, /*follow_up=*/true);
      Close(ctx, h, baton::internal::v1::ACCEPTED, t_ms);
      h.clear_lead();
      return;
    }
    EndSla(ctx, h, t_ms, /*follow_up=*/false);
    Close(ctx, h, baton::internal::v1::REJECTED, t_ms);
    h.set_rejection_reason(d.reason());
    const bool has_reason = d.reason() != baton::v1::REJECTION_REASON_UNSPECIFIED;
    ctx.effects.rejections.push_back(has_reason ? baton::v1::RejectionReason_Name(d.reason())
                                                : "NONE");
    baton::v1::Alert alert = NewAlert(
        head, &h, has_reason ? baton::v1::HANDOFF_REJECTED : baton::v1::REJECTION_WITHOUT_REASON,
        has_reason ? baton::v1::INFO : baton::v1::WARNING, t_ms);
    alert.set_alert_id(
        AlertId(has_reason ? "handoff_rejected" : "rejection_without_reason", h.handoff_id()));
    alert.set_rejection_reason(d.reason());
    AddRecipients(alert, {head.profile().owners().marketing_owner_id()}, head, ctx.opts);
    const std::string who = d.rep_id().empty() ? h.assignee_id() : d.rep_id();
    alert.set_summary(
        has_reason
            ? absl::StrCat(head.profile().name(), ": ", who, " rejected handoff ", h.handoff_id(),
                           " (", h.rule_name(), "): ", baton::v1::RejectionReason_Name(d.reason()),
                           "; recycled to ", ctx.policy().recycle_queue())
            : absl::StrCat(head.profile().name(), ": ", who, " rejected handoff ", h.handoff_id(),
                           " (", h.rule_name(),
                           ") without a reason code; ask for one (wrong account, weak role, bad "
                           "timing, signal too light, missing context)"));
    ctx.effects.alerts.push_back(std::move(alert));
    // A queue's rejection (e.g. nurture declining) has nothing to recycle to.
    if (!IsQueue(h)) Recycle(ctx, h, d, t_ms);
    h.clear_lead();
    return;
  }
}

// ApplyFollowUp: a sales activity by a handoff's assignee, after it was assigned, satisfies
// its SLA; one by anybody else does not.
void ApplyFollowUp(Ctx& ctx, const baton::v1::SalesActivity& a, int64_t t_ms) {
  if (!ctx.policy().CountsAsFollowUp(a.kind(), a.automated())) return;
  for (HandoffRecord& h : *ctx.head().mutable_handoffs()) {
    if (h.assignee_id() != a.rep_id() || t_ms < h.assigned_at_ms()) continue;
    EndSla(ctx, h, t_ms, /*follow_up=*/true);
  }
}

// ApplyOutreach records a campaign or sprint and raises one CONFLICT alert per overlapping
// campaign-sprint pair.
void ApplyOutreach(Ctx& ctx, const baton::v1::OutreachPlan& p, int64_t t_ms) {
  AccountHead& head = ctx.head();
  auto* windows = head.mutable_outreach();
  for (int i = windows->size() - 1; i >= 0; --i) {
    const auto& w = windows->Get(i);
    // Replaced, withdrawn, or over.
    if (w.plan_id() == p.plan_id() || w.end_ms() <= head.watermark_ms()) {
      windows->DeleteSubrange(i, 1);
    }
  }
  if (p.cancelled()) return;
  baton::internal::v1::OutreachWindow window;
  window.set_plan_id(p.plan_id());
  window.set_kind(p.kind());
  window.set_owner_id(p.owner_id());
  window.set_start_ms(Millis(ToTime(p.period().start())));
  window.set_end_ms(Millis(ToTime(p.period().end())));
  window.set_name(p.name());
  for (const auto& other : *windows) {
    if (other.kind() == window.kind() || other.end_ms() <= window.start_ms() ||
        window.end_ms() <= other.start_ms()) {
      continue;
    }
    const auto& campaign = window.kind() == baton::v1::MARKETING_CAMPAIGN ? window : other;
    const auto& sprint = window.kind() == baton::v1::MARKETING_CAMPAIGN ? other : window;
    const uint64_t pair = StableHash64({campaign.plan_id(), sprint.plan_id()});
    auto& alerted = *head.mutable_conflicts_alerted();
    if (std::find(alerted.begin(), alerted.end(), pair) != alerted.end()) continue;
    alerted.Add(pair);
    if (alerted.size() > 64) alerted.erase(alerted.begin());
    baton::v1::Alert alert = NewAlert(head, nullptr, baton::v1::CONFLICT, baton::v1::WARNING, t_ms);
    alert.set_alert_id(AlertId("conflict", absl::StrCat(head.account_id(), ":", campaign.plan_id(),
                                                        "+", sprint.plan_id())));
    const auto& owners = head.profile().owners();
    AddRecipients(
        alert,
        {owners.ae_id(), owners.marketing_owner_id(), campaign.owner_id(), sprint.owner_id()}, head,
        ctx.opts);
    const int64_t from = std::max(campaign.start_ms(), sprint.start_ms());
    const int64_t to = std::min(campaign.end_ms(), sprint.end_ms());
    alert.set_summary(
        absl::StrCat(head.profile().name(), ": marketing campaign ", campaign.plan_id(),
                     campaign.name().empty() ? "" : absl::StrCat(" (", campaign.name(), ")"),
                     " overlaps sales sprint ", sprint.plan_id(),
                     sprint.name().empty() ? "" : absl::StrCat(" (", sprint.name(), ")"), " from ",
                     FormatMs(from), " to ", FormatMs(to), "; agree who goes first"));
    ctx.effects.alerts.push_back(std::move(alert));
  }
  *windows->Add() = std::move(window);
}

// ---- Timers -----------------------------------------------------------------------------------

enum class TimerKind { kReminder = 0, kDeadline = 1, kEscalation = 2, kStall = 3, kDecision = 4 };

struct Due {
  int64_t at_ms = 0;
  TimerKind kind = TimerKind::kReminder;
  int handoff = -1;  // index into head.handoffs for SLA timers
  friend bool operator<(const Due& a, const Due& b) {
    return std::tie(a.at_ms, a.kind, a.handoff) < std::tie(b.at_ms, b.kind, b.handoff);
  }
};

int64_t StallBase(const AccountHead& head) {
  return std::max(
      {head.last_marketing_touch_ms(), head.last_sales_touch_ms(), head.stage_time_ms()});
}

// Earliest is the account's earliest pending timer.
std::optional<Due> Earliest(const RuleSet& rules, const AccountHead& head) {
  std::optional<Due> best;
  auto consider = [&best](Due d) {
    if (d.at_ms != 0 && (!best || d < *best)) best = d;
  };
  for (int i = 0; i < head.handoffs_size(); ++i) {
    const SlaState& sla = head.handoffs(i).sla();
    if (sla.status() == baton::internal::v1::ARMED) {
      if (sla.reminder_ms() != 0) consider({sla.reminder_ms(), TimerKind::kReminder, i});
      consider({sla.deadline_ms(), TimerKind::kDeadline, i});
    } else if (sla.status() == baton::internal::v1::BREACHED && !sla.escalation_done()) {
      consider({sla.next_step_ms(), TimerKind::kEscalation, i});
    }
  }
  if (!head.has_profile()) return best;
  const Policy& policy = rules.policy();
  if (std::optional<absl::Duration> after =
          policy.StallAfter(rules.CanonicalStage(head.profile().stage()))) {
    const int64_t base = StallBase(head);
    if (base != 0 && head.stall_alerted_touch_ms() != base) {
      consider({base + absl::ToInt64Milliseconds(*after), TimerKind::kStall, -1});
    }
  }
  if (head.profile().has_decision_date() && policy.ConversationWithin()) {
    const int64_t date = Millis(ToTime(head.profile().decision_date()));
    if (date > 0 && head.decision_alerted_ms() != date) {
      consider({date, TimerKind::kDecision, -1});
    }
  }
  return best;
}

// Reassign moves a breached handoff to the backup or manager of its assignee, with a new lead
// and a new SLA. Returns the new assignee, or "" (with why) when nobody could take it.
std::string Reassign(Ctx& ctx, HandoffRecord& h, baton::config::v1::Recipient to, int level,
                     int64_t at_ms, std::string& why) {
  baton::config::v1::Target target;
  if (to == baton::config::v1::BACKUP) {
    target.set_backup(true);
  } else {
    target.set_manager(true);
  }
  baton::config::v1::Target current;
  current.set_rep(h.assignee_id());
  // Route from the current assignee (named first so backup/manager refer to them) while never
  // picking them again.
  RouteDecision d = Route(ctx.policy(), ctx.team, {current, target}, {},
                          absl::FromUnixMillis(at_ms), h.assignee_id(), /*catch_all=*/false);
  if (d.assignee.empty() || d.queue) {
    why = absl::StrJoin(d.path, "; ");
    return "";
  }
  const std::string previous = h.assignee_id();
  ctx.team.AddOpen(previous, -1);
  ctx.team.AddOpen(d.assignee, +1);
  h.set_assignee_id(d.assignee);
  h.set_assignee_role(d.role);
  h.set_assignment(h.assignment() + 1);
  h.set_assigned_at_ms(at_ms);
  ArmSla(ctx, h, at_ms);

  baton::v1::RoutedLead lead = h.lead();
  lead.set_lead_id(absl::StrCat(LeadId(h.handoff_id()), ":", h.assignment()));
  lead.set_assignment(h.assignment());
  lead.set_previous_assignee_id(previous);
  d.path.insert(d.path.begin(), absl::StrCat("escalation ", level, ": no follow-up by ", previous));
  FillAssignee(lead, h, d);
  *h.mutable_lead() = lead;
  ctx.effects.leads.push_back(std::move(lead));
  return d.assignee;
}

// ScheduleNextStep times the breached SLA's next escalation step: its `after` in the assignee's
// business hours from the breach, never before `not_before_ms`; or ends the escalation when no
// step is left.
void ScheduleNextStep(Ctx& ctx, HandoffRecord& h, int64_t not_before_ms) {
  SlaState* sla = h.mutable_sla();
  if (sla->next_step() >= sla->policy().escalation_size()) {
    sla->set_escalation_done(true);
    sla->set_next_step_ms(0);
    return;
  }
  const BusinessCalendar calendar =
      ctx.policy().CalendarFor(h.assignee_id(), ctx.team.Rep(h.assignee_id()));
  const absl::Time due =
      calendar.Add(absl::FromUnixMillis(sla->deadline_ms()),
                   ToDuration(sla->policy().escalation(sla->next_step()).after()));
  sla->set_next_step_ms(std::max(not_before_ms, absl::ToUnixMillis(due)));
}

void Fire(Ctx& ctx, const Due& due) {
  AccountHead& head = ctx.head();
  const std::string& name = head.profile().name();
  ctx.effects.timers_fired.push_back(absl::FromUnixMillis(due.at_ms));
  switch (due.kind) {
    case TimerKind::kReminder: {
      HandoffRecord& h = head.mutable_handoffs()->at(due.handoff);
      h.mutable_sla()->set_reminder_ms(0);
      baton::v1::Alert alert =
          NewAlert(head, &h, baton::v1::SLA_REMINDER, baton::v1::WARNING, due.at_ms);
      alert.set_alert_id(AlertId("sla_reminder", AssignmentCause(h)));
      AddRecipients(alert, {h.assignee_id()}, head, ctx.opts);
      alert.set_summary(absl::StrCat(name, " (", TierName(head.profile().tier()),
                                     "): follow up on handoff ", h.handoff_id(), " by ",
                                     FormatMs(h.sla().deadline_ms())));
      ctx.effects.alerts.push_back(std::move(alert));
      return;
    }
    case TimerKind::kDeadline: {
      HandoffRecord& h = head.mutable_handoffs()->at(due.handoff);
      SlaState* sla = h.mutable_sla();
      sla->set_status(baton::internal::v1::BREACHED);
      sla->set_reminder_ms(0);
      ctx.effects.sla_outcomes.push_back("breached");
      baton::v1::Alert alert =
          NewAlert(head, &h, baton::v1::SLA_BREACH, baton::v1::CRITICAL, due.at_ms);
      alert.set_alert_id(AlertId("sla_breach", AssignmentCause(h)));
      AddRecipients(alert, {h.assignee_id()}, head, ctx.opts);
      alert.set_summary(absl::StrCat(name, " (", TierName(head.profile().tier()),
                                     "): ", h.assignee_id(), " did not follow up on handoff ",
                                     h.handoff_id(), " by ", FormatMs(sla->deadline_ms())));
      ctx.effects.alerts.push_back(std::move(alert));
      ScheduleNextStep(ctx, h, /*not_before_ms=*/sla->deadline_ms());
      return;
    }
    case TimerKind::kEscalation: {
      HandoffRecord& h = head.mutable_handoffs()->at(due.handoff);
      SlaState* sla = h.mutable_sla();
      const int index = sla->next_step();
      const baton::config::v1::EscalationStep step = sla->policy().escalation(index);
      const int level = index + 1;
      baton::v1::Alert alert =
          NewAlert(head, &h, baton::v1::ESCALATION, baton::v1::CRITICAL, due.at_ms);
      alert.set_alert_id(AlertId("escalation", h.handoff_id(), level));
      alert.set_escalation_level(level);
      std::vector<std::string> recipients;
      for (int r : step.notify()) {
        recipients.push_back(Resolve(ctx, h, static_cast<baton::config::v1::Recipient>(r), head));
      }
      const std::string previous = h.assignee_id();
      std::string text =
          absl::StrCat(name, " (", TierName(head.profile().tier()), "): handoff ", h.handoff_id(),
                       " still has no follow-up from ", previous, " (due ",
                       FormatMs(sla->deadline_ms()), "); escalation ", level);
      sla->set_next_step(index + 1);
      if (step.reassign_to() != baton::config::v1::RECIPIENT_UNSPECIFIED) {
        std::string why;
        const std::string to = Reassign(ctx, h, step.reassign_to(), level, due.at_ms, why);
        if (to.empty()) {
          absl::StrAppend(&text, "; could not reassign: ", why);
          // Nobody new holds it: the assignee and their manager must hear of it.
          recipients.push_back(previous);
          recipients.push_back(RepRelation(ctx.policy(), previous, /*backup=*/false));
        } else {
          absl::StrAppend(&text, "; reassigned to ", to, ", follow up by ",
                          FormatMs(h.sla().deadline_ms()));
          recipients.push_back(to);
          alert.set_assignee_id(to);
          *alert.mutable_sla_deadline() = MillisToTimestamp(h.sla().deadline_ms());
        }
      }
      AddRecipients(alert, recipients, head, ctx.opts);
      alert.set_summary(std::move(text));
      ctx.effects.alerts.push_back(std::move(alert));
      // After a reassignment the new SLA is armed; the next step waits for its breach.
      if (h.sla().status() == baton::internal::v1::BREACHED) {
        ScheduleNextStep(ctx, h, /*not_before_ms=*/due.at_ms);
      }
      return;
    }
    case TimerKind::kStall: {
      const int64_t base = StallBase(head);
      head.set_stall_alerted_touch_ms(base);
      baton::v1::Alert alert =
          NewAlert(head, nullptr, baton::v1::STALLED_ACCOUNT, baton::v1::WARNING, due.at_ms);
      alert.set_alert_id(AlertId("stalled", absl::StrCat(head.account_id(), "@", base)));
      const auto& owners = head.profile().owners();
      AddRecipients(alert, {owners.ae_id(), owners.marketing_owner_id()}, head, ctx.opts);
      alert.set_summary(absl::StrCat(name, " (", TierName(head.profile().tier()),
                                     ") is stalled in stage ", head.profile().stage(),
                                     ": no marketing or sales touch since ", FormatMs(base)));
      ctx.effects.alerts.push_back(std::move(alert));
      return;
    }
    case TimerKind::kDecision: {
      head.set_decision_alerted_ms(due.at_ms);
      const absl::Duration within = *ctx.policy().ConversationWithin();
      if (head.last_conversation_ms() >= due.at_ms - absl::ToInt64Milliseconds(within)) return;
      baton::v1::Alert alert =
          NewAlert(head, nullptr, baton::v1::DECISION_DATE_PASSED, baton::v1::WARNING, due.at_ms);
      alert.set_alert_id(
          AlertId("decision_date_passed", absl::StrCat(head.account_id(), "@", due.at_ms)));
      const auto& owners = head.profile().owners();
      AddRecipients(alert, {owners.ae_id(), owners.marketing_owner_id()}, head, ctx.opts);
      alert.set_summary(absl::StrCat(name, " (", TierName(head.profile().tier()),
                                     "): the decision date ", FormatMs(due.at_ms),
                                     " passed with no sales conversation in the ",
                                     FormatWindow(within), " before it; pause the account"));
      ctx.effects.alerts.push_back(std::move(alert));
      return;
    }
  }
}

// ExpireUpTo fires every timer due at or before `now_ms`, earliest first.
void ExpireUpTo(Ctx& ctx, int64_t now_ms) {
  // Each firing moves its timer forward or removes it; the bound only guards against a bug
  // turning into an endless loop.
  for (int i = 0; i < 10'000; ++i) {
    std::optional<Due> due = Earliest(ctx.rules, ctx.account.head());
    if (!due || due->at_ms > now_ms) return;
    Fire(ctx, *due);
  }
}

// RecordDeadline stores the earliest due time in the head, touching it only on change.
void RecordDeadline(const RuleSet& rules, Account& account) {
  std::optional<Due> due = Earliest(rules, account.head());
  const int64_t at = due ? due->at_ms : 0;
  if (account.head().timer_due_ms() != at) account.mutable_head().set_timer_due_ms(at);
}

// Blocked is true when `rule` may not fire now: an open handoff at the same or a higher level
// (a higher level may upgrade an open early signal), the rule's own cooldown, or a rejection's
// recycling cooldown.
bool Blocked(const baton::config::v1::Rule& rule, const RuleSet& rules, const AccountHead& head) {
  if (head.watermark_ms() < head.recycled_until_ms()) return true;
  for (const HandoffRecord& h : head.handoffs()) {
    // A queue holding a handoff (nurture, catch-all) does not block a new one: the account may
    // have become worth a person's time. The rule's own cooldown still applies.
    if (h.status() == baton::internal::v1::OPEN && h.level() >= rule.level() && !IsQueue(h)) {
      return true;
    }
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

absl::StatusOr<Effects> Engine::Apply(const InputEvent& event, Account& account, Team& team) const {
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
  const int64_t t_ms = Millis(t);
  if (const auto* crm = std::get_if<CrmEvent>(&event); crm != nullptr && crm->has_rep_status()) {
    // Idempotent by time: an older status than the one applied changes nothing.
    const auto& status = crm->rep_status();
    const baton::internal::v1::RepState* known = team.Rep(status.rep_id());
    if (known == nullptr || t_ms >= known->status_time_ms()) {
      auto& rep = team.MutableRep(status.rep_id());
      *rep.mutable_status() = status;
      rep.set_status_time_ms(t_ms);
    } else {
      effects.duplicate = true;
    }
    return effects;
  }
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
  const RuleSet& rules = *rules_;
  Ctx ctx{rules, options_, account, team, effects};
  // Timers due before this event fire first, whenever the event is processed.
  ExpireUpTo(ctx, t_ms - 1);
  if (engagement != nullptr) {
    ApplyEngagement(*engagement, id_hash, account, rules.retention(), effects);
    if (effects.late) {
      RecordDeadline(rules, account);
      return effects;
    }
  } else {
    const auto& crm = std::get<CrmEvent>(event);
    ApplyCrm(crm, account);
    AccountHead& head = account.mutable_crm();
    if (crm.has_handoff_disposition()) ApplyDisposition(ctx, crm.handoff_disposition(), t_ms);
    if (crm.has_sales_activity()) ApplyFollowUp(ctx, crm.sales_activity(), t_ms);
    if (crm.has_outreach_plan()) ApplyOutreach(ctx, crm.outreach_plan(), t_ms);
    head.add_crm_seen(id_hash);
    const int over = head.crm_seen_size() - options_.max_seen_crm_events;
    if (over > 0)
      head.mutable_crm_seen()->erase(head.crm_seen().begin(), head.crm_seen().begin() + over);
  }
  AccountHead& head = account.mutable_head();
  head.set_watermark_ms(std::max(head.watermark_ms(), t_ms));
  account.DropEngagementUpTo(head.watermark_ms() - absl::ToInt64Milliseconds(rules.retention()),
                             options_.max_engagement_records);

  // The first rule by priority that holds and is not blocked makes the handoff.
  for (int index : rules.order()) {
    const baton::config::v1::Rule& rule = rules.file().rules(index);
    if (Blocked(rule, rules, account.head())) continue;
    if (std::optional<RuleMatch> match = rules.Evaluate(rule, account)) {
      Handoff(ctx, rule, *match, event);
      break;
    }
  }
  RecordDeadline(rules, account);
  return effects;
}

Effects Engine::Expire(Account& account, Team& team, absl::Time now) const {
  Effects effects;
  const RuleSet& rules = *rules_;
  std::optional<Due> due = Earliest(rules, account.head());
  if (due && due->at_ms <= Millis(now)) {
    Ctx ctx{rules, options_, account, team, effects};
    ExpireUpTo(ctx, Millis(now));
  }
  RecordDeadline(rules, account);
  return effects;
}

absl::Time Engine::NextDeadline(const Account& account) const {
  std::optional<Due> due = Earliest(*rules_, account.head());
  return due ? absl::FromUnixMillis(due->at_ms) : absl::InfiniteFuture();
}

}  // namespace baton::core
