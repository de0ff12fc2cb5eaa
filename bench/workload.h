// Workload: a seeded, realistic ABM event stream for Baton's benchmarks.
//
// Accounts are spread over tiers (15% Tier 1, 25% Tier 2, 30% Tier 3, 30% not ABM), each with
// 8–12 contacts holding buying-group roles. The stream opens with the CRM load (account and
// contact upserts), then interleaves engagement (Zipf-skewed over accounts, the full event mix,
// pricing visits among page visits) with CRM activity, deal-stage changes and dispositions,
// across 30 days (by default) of event time. A few percent of events are late (event time up to 20
// days back) or re-sent duplicates. 80% of messages are binary protobuf, 20% JSON.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace baton::bench {

struct WorkloadOptions {
  uint64_t seed = 42;
  int accounts = 100'000;
  // Events after the CRM load.
  int64_t events = 1'000'000;
  int partitions = 6;
  double zipf_s = 0.9;
  double late_fraction = 0.02;
  double duplicate_fraction = 0.01;
  double json_fraction = 0.2;
  // Event time of the last event; the stream spans the `days` before it.
  absl::Time end = absl::FromUnixSeconds(1795168800);
  int days = 30;
};

struct Message {
  bool engagement = true;
  int32_t partition = 0;
  std::string key;
  std::string value;
  bool json = false;
};

struct Workload {
  std::vector<Message> crm_load;  // account and contact upserts
  std::vector<Message> stream;    // everything after
};

Workload Generate(const WorkloadOptions& options);

}  // namespace baton::bench
