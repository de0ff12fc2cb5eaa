#include "baton/core/team.h"

#include <algorithm>
#include <utility>

namespace baton::core {

using baton::internal::v1::PoolState;
using baton::internal::v1::RepState;

Team::Team(std::vector<RepState> reps, std::vector<PoolState> pools) {
  for (RepState& r : reps) {
    std::string id = r.rep_id();
    reps_.emplace(std::move(id), std::move(r));
  }
  for (PoolState& p : pools) {
    std::string name = p.pool();
    pools_.emplace(std::move(name), std::move(p));
  }
}

const RepState* Team::Rep(absl::string_view rep_id) const {
  auto it = reps_.find(rep_id);
  return it == reps_.end() ? nullptr : &it->second;
}

RepState& Team::MutableRep(absl::string_view rep_id) {
  auto it = reps_.find(rep_id);
  if (it == reps_.end()) {
    it = reps_.emplace(std::string(rep_id), RepState()).first;
    it->second.set_rep_id(std::string(rep_id));
  }
  if (std::find(dirty_reps_.begin(), dirty_reps_.end(), it->first) == dirty_reps_.end()) {
    dirty_reps_.push_back(it->first);
  }
  return it->second;
}

PoolState& Team::MutablePool(absl::string_view pool) {
  auto it = pools_.find(pool);
  if (it == pools_.end()) {
    it = pools_.emplace(std::string(pool), PoolState()).first;
    it->second.set_pool(std::string(pool));
  }
  if (std::find(dirty_pools_.begin(), dirty_pools_.end(), it->first) == dirty_pools_.end()) {
    dirty_pools_.push_back(it->first);
  }
  return it->second;
}

int Team::OpenHandoffs(absl::string_view rep_id) const {
  const RepState* r = Rep(rep_id);
  return r == nullptr ? 0 : r->open_handoffs();
}

void Team::AddOpen(absl::string_view rep_id, int delta) {
  if (rep_id.empty()) return;
  RepState& r = MutableRep(rep_id);
  r.set_open_handoffs(std::max(0, r.open_handoffs() + delta));
}

Team::Changes Team::TakeChanges() {
  Changes changes;
  for (const std::string& id : dirty_reps_) changes.reps.push_back(reps_.at(id));
  for (const std::string& name : dirty_pools_) changes.pools.push_back(pools_.at(name));
  dirty_reps_.clear();
  dirty_pools_.clear();
  return changes;
}

}  // namespace baton::core
