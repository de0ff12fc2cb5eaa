#include "baton/core/routing.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace baton::core {
namespace {

using baton::config::v1::Target;

const char* OwnerRoleName(baton::config::v1::OwnerRole role) {
  switch (role) {
    case baton::config::v1::AE:
      return "AE";
    case baton::config::v1::SDR:
      return "SDR";
    case baton::config::v1::MARKETING_OWNER:
      return "MARKETING_OWNER";
    default:
      return "OWNER";
  }
}

const std::string& OwnerId(const baton::v1::Owners& owners, baton::config::v1::OwnerRole role) {
  switch (role) {
    case baton::config::v1::AE:
      return owners.ae_id();
    case baton::config::v1::SDR:
      return owners.sdr_id();
    default:
      return owners.marketing_owner_id();
  }
}

}  // namespace

RouteDecision Route(const Policy& policy, Team& team, const std::vector<Target>& waterfall,
                    const baton::v1::Owners& owners, absl::Time at, absl::string_view exclude,
                    bool catch_all) {
  RouteDecision d;
  // The first rep named in the waterfall (the owner, usually): backup and manager steps refer
  // to them, available or not — "the owner's backup, then the owner's manager".
  std::string first_rep;
  auto relation = [&](bool backup) -> std::string {
    const baton::config::v1::Rep* rep = policy.Rep(first_rep);
    if (rep == nullptr) return {};
    return backup ? rep->backup() : rep->manager();
  };
  // Try one rep; true when taken.
  auto try_rep = [&](const std::string& label, const std::string& id, const char* role) {
    if (id.empty()) {
      d.path.push_back(absl::StrCat(label, ": none"));
      return false;
    }
    if (first_rep.empty()) first_rep = id;
    std::string why =
        id == exclude ? "being reassigned away" : policy.Unavailable(id, team.Rep(id), at);
    if (!why.empty()) {
      d.path.push_back(absl::StrCat(label, " ", id, ": ", why));
      return false;
    }
    d.path.push_back(absl::StrCat(label, " ", id));
    d.assignee = id;
    d.role = role;
    return true;
  };

  for (const Target& t : waterfall) {
    if (t.owner() != baton::config::v1::OWNER_ROLE_UNSPECIFIED) {
      if (try_rep(absl::StrCat("account ", OwnerRoleName(t.owner())), OwnerId(owners, t.owner()),
                  OwnerRoleName(t.owner()))) {
        return d;
      }
    } else if (!t.rep().empty()) {
      if (try_rep("rep", t.rep(), "REP")) return d;
    } else if (t.backup() || t.manager()) {
      const std::string of = first_rep;
      const std::string id = relation(t.backup());
      const std::string label =
          absl::StrCat(t.backup() ? "backup" : "manager", " of ", of.empty() ? "nobody" : of);
      if (try_rep(label, id, t.backup() ? "BACKUP" : "MANAGER")) return d;
    } else if (!t.queue().empty()) {
      d.path.push_back(absl::StrCat("queue ", t.queue()));
      d.assignee = t.queue();
      d.role = "QUEUE";
      d.queue = true;
      return d;
    } else if (const baton::config::v1::Pool* pool = policy.Pool(t.pool())) {
      // Smooth weighted round robin over the members that can take it now.
      int64_t total = 0;
      std::vector<std::pair<std::string, int64_t>> eligible;
      std::vector<std::string> skipped;
      for (const auto& m : pool->members()) {
        std::string why = m.rep() == exclude ? "being reassigned away"
                                             : policy.Unavailable(m.rep(), team.Rep(m.rep()), at);
        if (why.empty() && pool->max_open_per_rep() > 0 &&
            team.OpenHandoffs(m.rep()) >= pool->max_open_per_rep()) {
          why = absl::StrCat("at cap ", pool->max_open_per_rep());
        }
        if (!why.empty()) {
          skipped.push_back(absl::StrCat(m.rep(), " ", why));
          continue;
        }
        const int64_t weight = m.weight() == 0 ? 1 : m.weight();
        eligible.emplace_back(m.rep(), weight);
        total += weight;
      }
      if (eligible.empty()) {
        std::string line = absl::StrCat("pool ", pool->name(), ": nobody available");
        if (!skipped.empty()) absl::StrAppend(&line, " (", absl::StrJoin(skipped, ", "), ")");
        d.path.push_back(std::move(line));
        continue;
      }
      auto& current = *team.MutablePool(pool->name()).mutable_current();
      const std::string* best = nullptr;
      int64_t best_value = 0;
      for (const auto& [rep, weight] : eligible) {
        const int64_t value = (current[rep] += weight);
        if (best == nullptr || value > best_value) {
          best = &rep;
          best_value = value;
        }
      }
      current[*best] -= total;
      d.path.push_back(absl::StrCat("pool ", pool->name(), ": ", *best));
      d.assignee = *best;
      d.role = "POOL";
      if (first_rep.empty()) first_rep = *best;
      return d;
    }
  }
  if (catch_all && !policy.catch_all_queue().empty()) {
    d.path.push_back(absl::StrCat("catch-all queue ", policy.catch_all_queue()));
    d.assignee = policy.catch_all_queue();
    d.role = "QUEUE";
    d.queue = true;
    return d;
  }
  d.path.push_back("nobody can take it");
  return d;
}

}  // namespace baton::core
