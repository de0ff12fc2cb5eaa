#include "workload.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "baton/codec/codec.h"
#include "baton/core/event.h"
#include "baton/v1/events.pb.h"

namespace baton::bench {
namespace {

// Zipf draws ranks 0..n-1 with P(k) proportional to 1/(k+1)^s, by inverting the CDF.
class Zipf {
 public:
  Zipf(int n, double s) : cdf_(n) {
    double sum = 0;
    for (int k = 0; k < n; ++k) cdf_[k] = (sum += 1.0 / std::pow(k + 1, s));
    for (double& c : cdf_) c /= sum;
  }
  int operator()(std::mt19937_64& rng) {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

std::string AccountId(int i) { return absl::StrCat("acct-", i); }

// Kafka's default partitioner is murmur2; any stable spread serves a benchmark.
int32_t PartitionOf(int account, int partitions) {
  return static_cast<int32_t>((static_cast<uint64_t>(account) * 2654435761u) % partitions);
}

template <typename Event>
Message Encode(const Event& e, bool engagement, int account, const WorkloadOptions& o, bool json) {
  Message m;
  m.engagement = engagement;
  m.partition = PartitionOf(account, o.partitions);
  m.key = AccountId(account);
  m.json = json;
  m.value = codec::Encode(e, json ? codec::PayloadFormat::kJson : codec::PayloadFormat::kProtobuf);
  return m;
}

}  // namespace

Workload Generate(const WorkloadOptions& o) {
  std::mt19937_64 rng(o.seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const absl::Time start = o.end - absl::Hours(24 * o.days);
  Workload w;
  std::vector<int> contacts(o.accounts);
  int64_t next_id = 0;

  for (int a = 0; a < o.accounts; ++a) {
    baton::v1::CrmEvent e;
    e.set_event_id(absl::StrCat("crm-", next_id++));
    *e.mutable_event_time() = core::ToTimestamp(start);
    e.set_source("crm");
    auto* u = e.mutable_account_upsert();
    u->set_account_id(AccountId(a));
    u->set_name(absl::StrCat("Account ", a, " Holdings"));
    u->add_domains(absl::StrCat("account", a, ".example"));
    const int t = pick(100);
    u->set_tier(t < 15   ? baton::v1::TIER_1
                : t < 40 ? baton::v1::TIER_2
                : t < 70 ? baton::v1::TIER_3
                         : baton::v1::NOT_ABM);
    u->mutable_owners()->set_ae_id(absl::StrCat("ae-", a % 400));
    u->mutable_owners()->set_sdr_id(absl::StrCat("sdr-", a % 150));
    u->mutable_owners()->set_marketing_owner_id(absl::StrCat("mkt-", a % 40));
    u->set_selection_reason("ICP match: mid-market logistics");
    u->set_icp_fit(50 + pick(50));
    u->set_stage("Engaged");
    w.crm_load.push_back(Encode(e, false, a, o, chance(o.json_fraction)));
    contacts[a] = 8 + pick(5);
    for (int c = 0; c < contacts[a]; ++c) {
      baton::v1::CrmEvent ce;
      ce.set_event_id(absl::StrCat("crm-", next_id++));
      *ce.mutable_event_time() = core::ToTimestamp(start);
      ce.set_source("crm");
      auto* cu = ce.mutable_contact_upsert();
      cu->set_contact_id(absl::StrCat("c-", a, "-", c));
      cu->set_account_id(AccountId(a));
      cu->set_email(absl::StrCat("person", c, "@account", a, ".example"));
      cu->set_title("Director");
      cu->set_role(static_cast<baton::v1::BuyingGroupRole>(1 + pick(8)));
      w.crm_load.push_back(Encode(ce, false, a, o, chance(o.json_fraction)));
    }
  }

  Zipf zipf(o.accounts, o.zipf_s);
  // Ranks are shuffled onto accounts so the hottest accounts are spread over tiers.
  std::vector<int> account_of_rank(o.accounts);
  for (int i = 0; i < o.accounts; ++i) account_of_rank[i] = i;
  std::shuffle(account_of_rank.begin(), account_of_rank.end(), rng);

  w.stream.reserve(o.events);
  const double step_s = o.days * 24.0 * 3600 / static_cast<double>(std::max<int64_t>(o.events, 1));
  for (int64_t i = 0; i < o.events; ++i) {
    if (i > 0 && chance(o.duplicate_fraction)) {
      w.stream.push_back(w.stream[pick(static_cast<int>(std::min<int64_t>(i, 1 << 30)))]);
      continue;
    }
    absl::Time t = start + absl::Seconds(step_s * static_cast<double>(i));
    if (chance(o.late_fraction)) t -= absl::Seconds(pick(20 * 24 * 3600));
    const int a = account_of_rank[zipf(rng)];
    const int kind = pick(1000);
    if (kind < 930) {
      baton::v1::EngagementEvent e;
      e.set_event_id(absl::StrCat("eng-", next_id++));
      *e.mutable_event_time() = core::ToTimestamp(t);
      e.set_source("marketing-automation");
      e.set_account_id(AccountId(a));
      e.set_contact_id(absl::StrCat("c-", a, "-", pick(contacts[a])));
      const int m = pick(100);
      using baton::v1::EngagementType;
      EngagementType type = m < 38   ? baton::v1::EMAIL_OPEN
                            : m < 48 ? baton::v1::EMAIL_CLICK
                            : m < 74 ? baton::v1::PAGE_VISIT
                            : m < 81 ? baton::v1::CONTENT_DOWNLOAD
                            : m < 84 ? baton::v1::WEBINAR_REGISTRATION
                            : m < 86 ? baton::v1::WEBINAR_ATTENDANCE
                            : m < 89 ? baton::v1::FORM_FILL
                            : m < 92 ? baton::v1::INTENT_SIGNAL
                            : m < 95 ? baton::v1::REPLY
                            : m < 98 ? baton::v1::MEETING_REQUEST
                                     : baton::v1::MEETING_HELD;
      e.set_type(type);
      e.set_campaign_id(absl::StrCat("campaign-", pick(20)));
      if (type == baton::v1::PAGE_VISIT || type == baton::v1::EMAIL_CLICK) {
        e.set_url(chance(0.1) ? "https://vendor.example/pricing"
                              : absl::StrCat("https://vendor.example/blog/post-", pick(300)));
      }
      if (type == baton::v1::CONTENT_DOWNLOAD) e.set_content_id(absl::StrCat("asset-", pick(40)));
      if (type == baton::v1::INTENT_SIGNAL) {
        e.set_intent_topic("supply chain analytics");
        e.set_intent_score(pick(100));
      }
      w.stream.push_back(Encode(e, true, a, o, chance(o.json_fraction)));
    } else {
      baton::v1::CrmEvent e;
      e.set_event_id(absl::StrCat("crm-", next_id++));
      *e.mutable_event_time() = core::ToTimestamp(t);
      e.set_source("crm");
      if (kind < 980) {
        auto* s = e.mutable_sales_activity();
        s->set_account_id(AccountId(a));
        s->set_rep_id(absl::StrCat("ae-", a % 400));
        s->set_kind(static_cast<baton::v1::ActivityKind>(1 + pick(3)));
        s->set_automated(chance(0.2));
      } else if (kind < 990) {
        auto* d = e.mutable_deal_stage_change();
        d->set_deal_id(absl::StrCat("deal-", a));
        d->set_account_id(AccountId(a));
        d->set_stage(chance(0.5) ? "Evaluating" : "Advanced");
        d->set_amount_minor(1'000'000 + pick(9'000'000));
        d->set_currency("USD");
      } else {
        auto* d = e.mutable_handoff_disposition();
        d->set_handoff_id(absl::StrCat("ho-", AccountId(a), "-unknown"));
        d->set_account_id(AccountId(a));
        d->set_rep_id(absl::StrCat("ae-", a % 400));
        d->set_disposition(chance(0.7) ? baton::v1::ACCEPTED : baton::v1::REJECTED);
        d->set_reason(baton::v1::BAD_TIMING);
      }
      w.stream.push_back(Encode(e, false, a, o, chance(o.json_fraction)));
    }
  }
  return w;
}

}  // namespace baton::bench
