// Team: what routing knows and keeps beyond one account — each rep's availability as the CRM
// reported it (RepStatus), each rep's count of open handoffs, and each pool's round-robin
// position.
//
// The team is shared by all accounts an instance processes, so it lives outside the account
// records: the service loads it whole (it is small: one record per rep and per pool), the engine
// reads and updates it while applying events, and the changed records are written in the same
// commit unit as the accounts. Like Account, it tracks what changed since the last commit.
//
// Thread-safety: a plain value, owned by one thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "baton/internal/v1/state.pb.h"

namespace baton::core {

class Team {
 public:
  Team() = default;
  Team(std::vector<baton::internal::v1::RepState> reps,
       std::vector<baton::internal::v1::PoolState> pools);

  // Rep returns the rep's record, or nullptr for a rep Baton has heard nothing about.
  const baton::internal::v1::RepState* Rep(absl::string_view rep_id) const;
  // MutableRep returns the rep's record, creating it, and marks it changed.
  baton::internal::v1::RepState& MutableRep(absl::string_view rep_id);
  baton::internal::v1::PoolState& MutablePool(absl::string_view pool);

  // OpenHandoffs is the number of handoffs routed to the rep and still open.
  int OpenHandoffs(absl::string_view rep_id) const;
  void AddOpen(absl::string_view rep_id, int delta);

  struct Changes {
    std::vector<baton::internal::v1::RepState> reps;
    std::vector<baton::internal::v1::PoolState> pools;
  };
  // TakeChanges returns the records changed since the last call, and forgets them.
  Changes TakeChanges();
  bool dirty() const { return !dirty_reps_.empty() || !dirty_pools_.empty(); }

 private:
  std::map<std::string, baton::internal::v1::RepState, std::less<>> reps_;
  std::map<std::string, baton::internal::v1::PoolState, std::less<>> pools_;
  std::vector<std::string> dirty_reps_;
  std::vector<std::string> dirty_pools_;
};

}  // namespace baton::core
