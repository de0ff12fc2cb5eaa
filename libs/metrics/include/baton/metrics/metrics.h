// Metrics: Baton's Prometheus metrics, declared once here, and the /metrics endpoint.
//
// PrometheusMetrics implements pipeline::Observer, so the processing loop reports what it
// committed and this class turns it into counters. Every metric name is listed in README.md.
//
// Thread-safety: prometheus-cpp metrics are thread-safe; the exposer serves /metrics from its own
// threads while the processing thread updates the values.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "baton/pipeline/ports.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace prometheus {
class Exposer;
}

namespace baton::metrics {

class PrometheusMetrics final : public pipeline::Observer {
 public:
  PrometheusMetrics();
  ~PrometheusMetrics() override;

  // Serve starts serving /metrics on `address` ("127.0.0.1:9464"); an error names the address.
  absl::Status Serve(const std::string& address);

  void Committed(const pipeline::CommitStats& stats, absl::Duration took) override;
  void CommitFailed(absl::string_view stage) override;
  void CachedAccounts(size_t count) override;

  void SetAssignedPartitions(size_t count);
  void SetUp(bool up);
  // Restored: changelog records restored into the store on (re)assignment, and how long.
  void Restored(int64_t records, absl::Duration took);
  // RulesReloaded records a rule-file load (`ok`) or a rejected one, and the version in force.
  void RulesReloaded(bool ok, int version_in_force);

  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>& consumed_;
  prometheus::Family<prometheus::Counter>& deadlettered_;
  prometheus::Counter& duplicates_;
  prometheus::Counter& late_;
  prometheus::Family<prometheus::Counter>& handoffs_;
  prometheus::Counter& routed_leads_;
  prometheus::Family<prometheus::Counter>& alerts_;
  prometheus::Counter& commits_;
  prometheus::Family<prometheus::Counter>& commit_failures_;
  prometheus::Histogram& commit_seconds_;
  prometheus::Histogram& batch_events_;
  prometheus::Gauge& assigned_partitions_;
  prometheus::Gauge& cached_accounts_;
  prometheus::Counter& account_loads_;
  prometheus::Gauge& up_;
  prometheus::Family<prometheus::Counter>& rule_loads_;
  prometheus::Gauge& rules_version_;
  prometheus::Family<prometheus::Counter>& matched_;
  prometheus::Counter& unmatched_;
  prometheus::Family<prometheus::Counter>& sla_outcomes_;
  prometheus::Family<prometheus::Counter>& rejections_;
  prometheus::Counter& accepted_;
  prometheus::Histogram& follow_up_seconds_;
  prometheus::Histogram& timer_lateness_seconds_;
  prometheus::Counter& restored_records_;
  prometheus::Gauge& last_restore_seconds_;
};

}  // namespace baton::metrics
