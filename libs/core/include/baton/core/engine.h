// Engine: Baton's per-account decision logic, deterministic and free of I/O.
//
// The engine applies one validated input event to its account's state and returns the outputs
// that event causes: at most one handoff (a RoutedLead plus its HANDOFF Alert, or a
// ROUTING_FAILURE Alert when nobody can take it). Given the same events, options and clock
// readings it produces the same outputs byte for byte (DESIGN.md, invariant 1).
//
// Time: rule windows are measured on event time and end at the account's watermark, the latest
// event time applied to the account, so late and out-of-order events land where they belong.
// The injected clock is read only to reject events from the future.
//
// Thread-safety: an Engine is immutable after construction; Apply may be called concurrently for
// different accounts. The Account passed in is owned by the caller.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "baton/core/account.h"
#include "baton/core/clock.h"
#include "baton/core/event.h"
#include "baton/internal/v1/state.pb.h"
#include "baton/v1/outputs.pb.h"

namespace baton::core {

// HandoffRule is the canonical qualification rule both teams agreed on: a contact at an account
// of `tier` opened at least `min_email_opens` emails within `window`, AND someone at the account
// visited the pricing page within `window`.
struct HandoffRule {
  std::string name = "tier1-email-opens-and-pricing";
  int version = 1;
  baton::v1::Tier tier = baton::v1::TIER_1;
  int min_email_opens = 3;
  absl::Duration window = absl::Hours(24 * 14);
  // No second handoff for the same account and rule within this time of the last one.
  absl::Duration cooldown = absl::Hours(24 * 30);
  baton::v1::QualificationLevel level = baton::v1::SALES_READY;
  // Placeholders: {account_name}, {tier}, {contact_title}, {contact_role}, {reason}.
  std::string message_template =
      "{account_name} ({tier}) is showing buying intent: {reason}. Reach out to the "
      "{contact_title} ({contact_role}) today with a pricing conversation.";
};

struct EngineOptions {
  HandoffRule rule;
  // Engagement older than this before the account's watermark is dropped from state, and an
  // engagement event that old on arrival is late: counted, not used in windows.
  absl::Duration retention = absl::Hours(24 * 14);
  // Events whose time is further than this ahead of the clock are rejected as invalid.
  absl::Duration max_future_skew = absl::Hours(24);
  // Bounds on per-account state (oldest entries go first): engagement records kept, and CRM
  // event ids remembered for de-duplication (CRM events are idempotent beyond that).
  int max_engagement_records = 4096;
  int max_seen_crm_events = 256;
  // Recipient of a ROUTING_FAILURE alert when the account has no marketing owner.
  std::string unrouted_queue = "queue:unrouted";
};

// Effects is what applying one event produced.
struct Effects {
  std::vector<baton::v1::RoutedLead> leads;
  std::vector<baton::v1::Alert> alerts;
  // The event id had been applied before: nothing changed.
  bool duplicate = false;
  // An engagement event older than the retention before the watermark: ignored for windows.
  bool late = false;
};

class Engine {
 public:
  Engine(EngineOptions options, const Clock& clock);

  // Apply applies `event` to `account` (the state of AccountIdOf(event); empty for a new
  // account) and returns the outputs. Returns InvalidArgument, with a message that starts with a
  // reason code ("bad_timestamp: ..."), for an event the engine cannot accept; `account` is
  // then unchanged.
  absl::StatusOr<Effects> Apply(const InputEvent& event, Account& account) const;

  const EngineOptions& options() const { return options_; }

 private:
  EngineOptions options_;
  const Clock& clock_;
};

}  // namespace baton::core
