// kafka_bench: the Kafka side of Baton's end-to-end benchmarks, against a real broker. It fills
// the input topics, measures what a bare consumer reads (the ceiling Baton is compared with), and
// measures event-to-lead latency through a running baton. bench/run_benchmarks.py drives it; each
// subcommand prints a short report and, with --json FILE, writes its numbers.
//
//   fill         produce the generated workload (bench/workload.h): the CRM load, then the
//                stream; engagement to the engagement topic, the rest to the CRM topic; keyed by
//                account id on the workload's explicit partition (so co-partitioning holds).
//   raw-consume  a minimal read_committed consumer in a fresh group that only reads (sums payload
//                lengths) until it has read --expect records: msgs/s from first to last record.
//   latency      sets up fresh Tier 1 "probe" accounts (with an AE) and waits until baton has
//                consumed them; then offers a fixed rate on an absolute schedule: filler
//                engagement on other accounts plus, per probe, 3 email opens and a pricing visit
//                that complete the canonical rule (spread from --warmup to 95% of the run);
//                latency = the probe's lead read on the routed-leads topic (read_committed,
//                reader started first) minus the produce call of the completing event.
//   trickle      produce a few engagement events on fresh accounts (the recovery benchmark).
//
//   build/bench/kafka_bench fill --brokers B --engagement-topic T --crm-topic T --accounts 100000
//       --events 1000000 --seed 42 [--partitions 6]
//   build/bench/kafka_bench raw-consume --brokers B --topics T1,T2 --expect K [--json FILE]
//   build/bench/kafka_bench latency --brokers B --engagement-topic T --crm-topic T
//       --routed-leads-topic T --rate 5000 --seconds 20 [--metrics URL] [--json FILE]
//   build/bench/kafka_bench trickle --brokers B --engagement-topic T --count 60
#include <librdkafka/rdkafka.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "baton/core/event.h"
#include "baton/v1/events.pb.h"
#include "baton/v1/outputs.pb.h"
#include "workload.h"

namespace {

using namespace baton;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "kafka_bench: %s\n", what.c_str());
  std::exit(1);
}

// Conf builds a librdkafka configuration from key/value pairs; a bad property is fatal.
rd_kafka_conf_t* Conf(const std::string& brokers,
                      const std::vector<std::pair<std::string, std::string>>& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  auto set = [&](const std::string& key, const std::string& value) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      Die(absl::StrCat("property ", key, ": ", error));
    }
  };
  set("bootstrap.servers", brokers);
  set("log.connection.close", "false");
  for (const auto& [key, value] : properties) set(key, value);
  return conf;
}

rd_kafka_t* NewClient(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof(error));  // owns conf on success
  if (rk == nullptr) Die(absl::StrCat("creating a Kafka client: ", error));
  return rk;
}

// Delivery reports: failures are counted (and the first one kept) through the producer opaque.
struct Deliveries {
  std::atomic<int64_t> ok{0};
  std::atomic<int64_t> failed{0};
  std::string first_error;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<Deliveries*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    d->ok.fetch_add(1, std::memory_order_relaxed);
  } else if (d->failed.fetch_add(1) == 0) {
    d->first_error = rd_kafka_err2str(m->err);
  }
}

rd_kafka_t* NewProducer(const std::string& brokers, Deliveries& deliveries,
                        const std::vector<std::pair<std::string, std::string>>& properties) {
  rd_kafka_conf_t* conf = Conf(brokers, properties);
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  rd_kafka_conf_set_opaque(conf, &deliveries);
  return NewClient(RD_KAFKA_PRODUCER, conf);
}

// Produce sends one record, waiting while the local queue is full. The value is copied unless
// `copy` is false (then it must outlive the delivery). partition -1: the configured partitioner.
void Produce(rd_kafka_t* rk, rd_kafka_topic_t* topic, int32_t partition, const std::string& key,
             const std::string& value, const char* content_type, bool copy = true) {
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(copy ? RD_KAFKA_MSG_F_COPY : 0), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADER("content-type", content_type, -1), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      Die(absl::StrCat("producing to ", rd_kafka_topic_name(topic), ": ", rd_kafka_err2str(err)));
    }
    rd_kafka_poll(rk, 5);
  }
}

void FlushOrDie(rd_kafka_t* rk, Deliveries& deliveries, int timeout_ms) {
  if (rd_kafka_flush(rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Die(absl::StrCat("flush: ", rd_kafka_outq_len(rk), " records still queued after ",
                     timeout_ms / 1000, " s"));
  }
  if (deliveries.failed > 0) {
    Die(absl::StrCat(deliveries.failed.load(),
                     " records not delivered; first: ", deliveries.first_error));
  }
}

constexpr const char* kJson = "application/json";
constexpr const char* kProtobuf = "application/x-protobuf";

// A run-unique tag for group ids and account/event ids.
std::string Nonce() {
  return absl::StrFormat("%x",
                         absl::ToUnixNanos(absl::Now()) ^ (static_cast<int64_t>(getpid()) << 40));
}

void WriteJson(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::ofstream out(path);
  out << text << "\n";
  if (!out) Die("cannot write " + path);
}

// ------------------------------------------------------------------------------------ fill --

struct FillFlags {
  std::string brokers, engagement_topic, crm_topic, json;
  bench::WorkloadOptions workload;
  int64_t end_unix = 0;  // 0: now (event times must be valid for baton's clock)
};

int Fill(FillFlags f) {
  f.workload.end = f.end_unix > 0 ? absl::FromUnixSeconds(f.end_unix)
                                  : absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) - 60);
  const Clock::time_point g0 = Clock::now();
  const bench::Workload w = bench::Generate(f.workload);
  std::fprintf(stderr, "fill: generated %zu + %zu messages in %.1fs\n", w.crm_load.size(),
               w.stream.size(), Seconds(Clock::now() - g0));

  Deliveries deliveries;
  rd_kafka_t* rk = NewProducer(f.brokers, deliveries,
                               {{"acks", "all"},
                                {"enable.idempotence", "true"},
                                {"linger.ms", "20"},
                                {"batch.size", "1000000"},
                                {"batch.num.messages", "100000"},
                                {"compression.type", "lz4"},
                                {"queue.buffering.max.messages", "2000000"},
                                {"queue.buffering.max.kbytes", "1048576"}});
  rd_kafka_topic_t* engagement = rd_kafka_topic_new(rk, f.engagement_topic.c_str(), nullptr);
  rd_kafka_topic_t* crm = rd_kafka_topic_new(rk, f.crm_topic.c_str(), nullptr);

  int64_t n_engagement = 0, n_crm = 0, bytes = 0;
  const Clock::time_point t0 = Clock::now();
  for (const auto* part : {&w.crm_load, &w.stream}) {
    for (const bench::Message& m : *part) {
      // The workload outlives the flush below, so values are not copied.
      Produce(rk, m.engagement ? engagement : crm, m.partition, m.key, m.value,
              m.json ? kJson : kProtobuf, /*copy=*/false);
      (m.engagement ? n_engagement : n_crm)++;
      bytes += static_cast<int64_t>(m.value.size());
      rd_kafka_poll(rk, 0);
    }
  }
  FlushOrDie(rk, deliveries, 300'000);
  const double seconds = Seconds(Clock::now() - t0);
  rd_kafka_topic_destroy(engagement);
  rd_kafka_topic_destroy(crm);
  rd_kafka_destroy(rk);

  const int64_t total = n_engagement + n_crm;
  std::printf("%-34s %s\n", "fill", "value");
  std::printf("%-34s %d accounts, %zu load + %zu stream messages, seed %llu\n", "workload",
              f.workload.accounts, w.crm_load.size(), w.stream.size(),
              static_cast<unsigned long long>(f.workload.seed));
  std::printf("%-34s %lld engagement + %lld crm = %lld (%.1f MiB of values)\n", "produced",
              static_cast<long long>(n_engagement), static_cast<long long>(n_crm),
              static_cast<long long>(total), static_cast<double>(bytes) / (1 << 20));
  std::printf("%-34s %.0f msgs/s (%.1fs, acked)\n", "produce rate",
              static_cast<double>(total) / seconds, seconds);
  WriteJson(f.json,
            absl::StrFormat(
                "{\"benchmark\": \"fill\", \"accounts\": %d, \"events\": %lld, \"seed\": %llu, "
                "\"load_messages\": %zu, \"stream_messages\": %zu, \"engagement_messages\": %lld, "
                "\"crm_messages\": %lld, \"total_messages\": %lld, \"value_bytes\": %lld, "
                "\"seconds\": %.3f, \"messages_per_second\": %.0f}",
                f.workload.accounts, static_cast<long long>(f.workload.events),
                static_cast<unsigned long long>(f.workload.seed), w.crm_load.size(),
                w.stream.size(), static_cast<long long>(n_engagement),
                static_cast<long long>(n_crm), static_cast<long long>(total),
                static_cast<long long>(bytes), seconds, static_cast<double>(total) / seconds));
  return 0;
}

// ----------------------------------------------------------------------------- raw-consume --

struct RawFlags {
  std::string brokers, topics, json;
  int64_t expect = 0;
  int timeout_s = 600;
};

int RawConsume(const RawFlags& f) {
  const std::string group = absl::StrCat("kafka-bench-raw-", Nonce());
  rd_kafka_t* rk =
      NewClient(RD_KAFKA_CONSUMER, Conf(f.brokers, {{"group.id", group},
                                                    {"auto.offset.reset", "earliest"},
                                                    {"isolation.level", "read_committed"},
                                                    {"enable.auto.commit", "false"},
                                                    {"enable.partition.eof", "false"}}));
  rd_kafka_poll_set_consumer(rk);
  std::vector<std::string> topics = absl::StrSplit(f.topics, ',', absl::SkipEmpty());
  rd_kafka_topic_partition_list_t* subscription =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(subscription, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  const Clock::time_point t0 = Clock::now();
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subscription); err) {
    Die(absl::StrCat("subscribe: ", rd_kafka_err2str(err)));
  }
  rd_kafka_topic_partition_list_destroy(subscription);

  int64_t count = 0, bytes = 0;
  uint64_t checksum = 0;
  Clock::time_point first{}, last{};
  const Clock::time_point deadline = t0 + std::chrono::seconds(f.timeout_s);
  while (count < f.expect) {
    if (Clock::now() > deadline) {
      Die(absl::StrCat("raw-consume: read ", count, " of ", f.expect, " records in ", f.timeout_s,
                       " s"));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err) {
      std::fprintf(stderr, "raw-consume: %s\n", rd_kafka_message_errstr(m));
    } else {
      if (count++ == 0) first = Clock::now();
      bytes += static_cast<int64_t>(m->len);
      if (m->len > 0) checksum += static_cast<const unsigned char*>(m->payload)[m->len - 1];
    }
    rd_kafka_message_destroy(m);
  }
  last = Clock::now();
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);

  const double steady = count > 1 ? static_cast<double>(count - 1) / Seconds(last - first) : 0;
  const double total = static_cast<double>(count) / Seconds(last - t0);
  std::printf("%-34s %s\n", "raw consume", "value");
  std::printf("%-34s %lld records, %.1f MiB of values (checksum %llu)\n", "read",
              static_cast<long long>(count), static_cast<double>(bytes) / (1 << 20),
              static_cast<unsigned long long>(checksum));
  std::printf("%-34s %.0f msgs/s (%.2fs)\n", "first to last record", steady, Seconds(last - first));
  std::printf("%-34s %.0f msgs/s (%.2fs, join %.2fs)\n", "incl. group join", total,
              Seconds(last - t0), Seconds(first - t0));
  WriteJson(f.json,
            absl::StrFormat("{\"benchmark\": \"raw-consume\", \"records\": %lld, \"bytes\": %lld, "
                            "\"seconds\": %.3f, \"messages_per_second\": %.0f, \"total_seconds\": "
                            "%.3f, \"total_messages_per_second\": %.0f, \"join_seconds\": %.3f}",
                            static_cast<long long>(count), static_cast<long long>(bytes),
                            Seconds(last - first), steady, Seconds(last - t0), total,
                            Seconds(first - t0)));
  return 0;
}

// --------------------------------------------------------------------------------- metrics --

// MetricSum GETs a Prometheus text page (url "http://host:port/path" or "host:port") and sums
// the samples of `name` whose label set contains `label` (empty: all). -1 when unreachable.
double MetricSum(const std::string& url, const std::string& name, const std::string& label) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  std::string hostport = rest.substr(0, rest.find('/'));
  std::string path = rest.find('/') == std::string::npos ? "/metrics" : rest.substr(rest.find('/'));
  const size_t colon = hostport.rfind(':');
  if (colon == std::string::npos) Die("--metrics: expected host:port in " + url);
  addrinfo hints{}, *addr = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(hostport.substr(0, colon).c_str(), hostport.substr(colon + 1).c_str(), &hints,
                  &addr) != 0) {
    return -1;
  }
  int fd = socket(addr->ai_family, addr->ai_socktype, addr->ai_protocol);
  const bool connected = fd >= 0 && connect(fd, addr->ai_addr, addr->ai_addrlen) == 0;
  freeaddrinfo(addr);
  if (!connected) {
    if (fd >= 0) close(fd);
    return -1;
  }
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", hostport, "\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    close(fd);
    return -1;
  }
  std::string body;
  char buffer[65536];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) body.append(buffer, n);
  close(fd);
  double sum = 0;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::StartsWith(line, name) || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    if (!label.empty() && line.find(label) == absl::string_view::npos) continue;
    const size_t space = line.rfind(' ');
    sum += std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
    found = true;
  }
  return found ? sum : 0;
}

// ------------------------------------------------------------------------ engagement events --

// Filler is plain engagement that never completes the rule: its accounts have no CRM profile
// (so they are not Tier 1) and its page visits are not pricing pages.
void FillerEvent(std::mt19937_64& rng, const std::string& account, baton::v1::EngagementEvent& e) {
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  e.Clear();
  e.set_source("marketing-automation");
  e.set_account_id(account);
  e.set_contact_id(absl::StrCat("c-", account, "-", pick(10)));
  const int m = pick(100);
  e.set_type(m < 40   ? baton::v1::EMAIL_OPEN
             : m < 50 ? baton::v1::EMAIL_CLICK
             : m < 85 ? baton::v1::PAGE_VISIT
                      : baton::v1::CONTENT_DOWNLOAD);
  e.set_campaign_id(absl::StrCat("campaign-", pick(20)));
  if (e.type() == baton::v1::PAGE_VISIT || e.type() == baton::v1::EMAIL_CLICK) {
    e.set_url(absl::StrCat("https://vendor.example/blog/post-", pick(300)));
  }
  if (e.type() == baton::v1::CONTENT_DOWNLOAD) e.set_content_id(absl::StrCat("asset-", pick(40)));
}

// ---------------------------------------------------------------------------------- latency --

struct LatencyFlags {
  std::string brokers, engagement_topic, crm_topic, leads_topic, metrics, json, samples;
  double rate = 5000;
  double seconds = 20;
  int probes = 0;  // 0: rate * seconds / 50, between 200 and 2000
  int filler_accounts = 20000;
  int open_gap_ms = 50;
  double warmup_s = 2;  // no probe completes before this (nor in the last 5% of the run)
  int linger_ms = 0;
  double setup_wait_s = 5;
  double drain_s = 30;
  uint64_t seed = 7;
};

// LeadReader reads the routed-leads topic (read_committed, every partition from the start, no
// group join) on its own thread and stamps the first lead of each probe account.
class LeadReader {
 public:
  LeadReader(const std::string& brokers, const std::string& topic,
             const std::unordered_map<std::string, int>& probe_of,
             std::vector<Clock::time_point>& received, std::vector<int64_t>& lead_created_us,
             std::vector<int64_t>& read_unix_us)
      : probe_of_(probe_of),
        received_(received),
        lead_created_us_(lead_created_us),
        read_unix_us_(read_unix_us) {
    rk_ = NewClient(RD_KAFKA_CONSUMER, Conf(brokers, {{"group.id", "kafka-bench-lat-" + Nonce()},
                                                      {"isolation.level", "read_committed"},
                                                      {"enable.auto.commit", "false"},
                                                      {"enable.partition.eof", "false"},
                                                      {"fetch.wait.max.ms", "50"}}));
    rd_kafka_poll_set_consumer(rk_);
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk_, 0, t, &md, 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
      Die("no metadata for topic " + topic);
    }
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), md->topics[0].partitions[i].id)
          ->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    if (rd_kafka_assign(rk_, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("assign " + topic);
    rd_kafka_topic_partition_list_destroy(parts);
    thread_ = std::thread([this] { Loop(); });
  }

  ~LeadReader() {
    Stop();
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }

  // Stop ends the reading thread; `received` is the caller's to read afterwards.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  int matched() const { return matched_.load(); }
  int64_t leads() const { return leads_.load(); }

 private:
  void Loop() {
    baton::v1::RoutedLead lead;
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 50);
      if (m == nullptr) continue;
      const Clock::time_point now = Clock::now();
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && lead.ParseFromArray(m->payload, m->len)) {
        ++leads_;
        auto it = probe_of_.find(lead.account_id());
        if (it != probe_of_.end() && received_[it->second] == Clock::time_point{}) {
          received_[it->second] = now;
          read_unix_us_[it->second] = absl::ToUnixMicros(absl::Now());
          rd_kafka_timestamp_type_t type;
          const int64_t created_ms = rd_kafka_message_timestamp(m, &type);
          lead_created_us_[it->second] = created_ms >= 0 ? created_ms * 1000 : -1;
          ++matched_;
        }
      }
      rd_kafka_message_destroy(m);
    }
  }

  rd_kafka_t* rk_;
  const std::unordered_map<std::string, int>& probe_of_;
  std::vector<Clock::time_point>& received_;
  std::vector<int64_t>& lead_created_us_;
  std::vector<int64_t>& read_unix_us_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> matched_{0};
  std::atomic<int64_t> leads_{0};
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int Latency(LatencyFlags f) {
  const int64_t n = std::max<int64_t>(1, std::llround(f.rate * f.seconds));
  if (f.probes <= 0) f.probes = static_cast<int>(std::clamp<int64_t>(n / 50, 200, 2000));
  if (int64_t{f.probes} * 8 > n) Die("too few events for that many probes");
  const std::string nonce = Nonce();
  std::mt19937_64 rng(f.seed);

  // Probe accounts, and the schedule: slot i is sent at t0 + i / rate. A slot holds filler (-1)
  // or step s (0-2: the opens, 3: the pricing visit) of probe k, as 4k + s. Probe visits are spread
  // evenly between the warm-up and 95% of the run; a probe's opens are 1, 2 and 3 gaps before.
  std::vector<std::string> probe_account(f.probes);
  std::unordered_map<std::string, int> probe_of;
  for (int k = 0; k < f.probes; ++k) {
    probe_account[k] = absl::StrCat("lat-", nonce, "-p", k);
    probe_of[probe_account[k]] = k;
  }
  std::vector<int32_t> slot(n, -1);
  const int64_t gap = std::max<int64_t>(1, std::llround(f.rate * f.open_gap_ms / 1000.0));
  const double from = std::clamp(f.warmup_s / f.seconds, 0.05, 0.5);
  for (int k = 0; k < f.probes; ++k) {
    const int64_t visit =
        static_cast<int64_t>(static_cast<double>(n) *
                             (from + (0.95 - from) * (k + 0.5) / static_cast<double>(f.probes)));
    int64_t at = std::max<int64_t>(0, visit - 3 * gap);
    for (int s = 0; s < 4; ++s) {
      at = std::max(at, visit - (3 - s) * gap);
      while (at < n && slot[at] != -1) ++at;
      if (at >= n) Die("schedule overflow: fewer probes or a longer run");
      slot[at++] = 4 * k + s;
    }
  }

  std::vector<Clock::time_point> produced(f.probes), received(f.probes);
  // For the split of each probe's latency at the lead's Kafka timestamp (the wall clock, in ms,
  // when baton produced it): the completing event's produce call and the lead's read, on the
  // wall clock too.
  std::vector<int64_t> produced_unix_us(f.probes), lead_created_us(f.probes, -1),
      read_unix_us(f.probes);
  LeadReader reader(f.brokers, f.leads_topic, probe_of, received, lead_created_us, read_unix_us);

  Deliveries deliveries;
  rd_kafka_t* rk = NewProducer(f.brokers, deliveries,
                               {{"acks", "all"},
                                {"enable.idempotence", "true"},
                                {"linger.ms", std::to_string(f.linger_ms)},
                                {"partitioner", "murmur2_random"}});
  rd_kafka_topic_t* engagement = rd_kafka_topic_new(rk, f.engagement_topic.c_str(), nullptr);
  rd_kafka_topic_t* crm = rd_kafka_topic_new(rk, f.crm_topic.c_str(), nullptr);
  std::string value;

  // Setup: each probe account is Tier 1 with an AE, and has a known decision maker.
  const double crm_before = f.metrics.empty()
                                ? 0
                                : MetricSum(f.metrics, "baton_events_consumed_total",
                                            absl::StrCat("topic=\"", f.crm_topic, "\""));
  const absl::Time setup_time = absl::Now() - absl::Minutes(1);
  for (int k = 0; k < f.probes; ++k) {
    baton::v1::CrmEvent account;
    account.set_event_id(absl::StrCat("lat-", nonce, "-acct-", k));
    *account.mutable_event_time() = core::ToTimestamp(setup_time);
    account.set_source("crm");
    auto* u = account.mutable_account_upsert();
    u->set_account_id(probe_account[k]);
    u->set_name(absl::StrCat("Probe ", k, " Industries"));
    u->add_domains(absl::StrCat("probe", k, ".example"));
    u->set_tier(baton::v1::TIER_1);
    u->mutable_owners()->set_ae_id(absl::StrCat("ae-", k % 50));
    u->mutable_owners()->set_sdr_id(absl::StrCat("sdr-", k % 20));
    u->mutable_owners()->set_marketing_owner_id(absl::StrCat("mkt-", k % 5));
    u->set_selection_reason("Latency probe");
    u->set_icp_fit(80);
    u->set_stage("Engaged");
    account.SerializeToString(&value);
    Produce(rk, crm, RD_KAFKA_PARTITION_UA, probe_account[k], value, kProtobuf);

    baton::v1::CrmEvent contact;
    contact.set_event_id(absl::StrCat("lat-", nonce, "-contact-", k));
    *contact.mutable_event_time() = core::ToTimestamp(setup_time);
    contact.set_source("crm");
    auto* c = contact.mutable_contact_upsert();
    c->set_contact_id(absl::StrCat("c-", probe_account[k], "-0"));
    c->set_account_id(probe_account[k]);
    c->set_email(absl::StrCat("buyer@probe", k, ".example"));
    c->set_title("VP Operations");
    c->set_role(baton::v1::DECISION_MAKER);
    contact.SerializeToString(&value);
    Produce(rk, crm, RD_KAFKA_PARTITION_UA, probe_account[k], value, kProtobuf);
    rd_kafka_poll(rk, 0);
  }
  FlushOrDie(rk, deliveries, 60'000);
  if (!f.metrics.empty() && crm_before >= 0) {
    const Clock::time_point until = Clock::now() + std::chrono::seconds(120);
    const std::string label = absl::StrCat("topic=\"", f.crm_topic, "\"");
    while (MetricSum(f.metrics, "baton_events_consumed_total", label) < crm_before + 2 * f.probes) {
      if (Clock::now() > until) Die("baton did not consume the probe setup within 120 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(f.setup_wait_s));
  }

  // The timed run, on an absolute schedule.
  baton::v1::EngagementEvent e;
  const auto period = std::chrono::duration<double>(1.0 / f.rate);
  std::uniform_int_distribution<int> filler_account(0, f.filler_accounts - 1);
  double max_behind_s = 0;
  const Clock::time_point t0 = Clock::now();
  // The run's start on the wall clock, to line the samples up with logs.
  const int64_t t0_unix_ms = absl::ToUnixMillis(absl::Now());
  for (int64_t i = 0; i < n; ++i) {
    const auto due = t0 + std::chrono::duration_cast<Clock::duration>(period * i);
    Clock::time_point now = Clock::now();
    if (now < due) {
      rd_kafka_poll(rk, 0);
      std::this_thread::sleep_until(due);
    } else {
      max_behind_s = std::max(max_behind_s, Seconds(now - due));
    }
    std::string account;
    if (slot[i] < 0) {
      account = absl::StrCat("lat-", nonce, "-f", filler_account(rng));
      FillerEvent(rng, account, e);
    } else {
      const int k = slot[i] / 4, step = slot[i] % 4;
      account = probe_account[k];
      e.Clear();
      e.set_source("marketing-automation");
      e.set_account_id(account);
      e.set_contact_id(absl::StrCat("c-", account, "-0"));
      e.set_campaign_id("q4-latency");
      if (step < 3) {
        e.set_type(baton::v1::EMAIL_OPEN);
      } else {
        e.set_type(baton::v1::PAGE_VISIT);
        e.set_url("https://vendor.example/pricing");
      }
    }
    e.set_event_id(absl::StrCat("lat-", nonce, "-e", i));
    *e.mutable_event_time() = core::ToTimestamp(absl::Now());
    e.SerializeToString(&value);
    if (slot[i] >= 0 && slot[i] % 4 == 3) {
      produced[slot[i] / 4] = Clock::now();
      produced_unix_us[slot[i] / 4] = absl::ToUnixMicros(absl::Now());
    }
    Produce(rk, engagement, RD_KAFKA_PARTITION_UA, account, value, kProtobuf);
    if ((i & 255) == 0) rd_kafka_poll(rk, 0);
  }
  const double offered_s = Seconds(Clock::now() - t0);
  FlushOrDie(rk, deliveries, 60'000);
  rd_kafka_topic_destroy(engagement);
  rd_kafka_topic_destroy(crm);
  rd_kafka_destroy(rk);

  const Clock::time_point drain_until =
      Clock::now() +
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(f.drain_s));
  while (reader.matched() < f.probes && Clock::now() < drain_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  reader.Stop();
  const int matched = reader.matched();
  std::vector<double> ms;
  for (int k = 0; k < f.probes; ++k) {
    if (received[k] != Clock::time_point{}) {
      ms.push_back(std::chrono::duration<double, std::milli>(received[k] - produced[k]).count());
    }
  }
  // The split at the lead's timestamp: event produced -> lead produced (Kafka to baton and baton
  // itself) and lead produced -> lead read (the lead's batch, the broker, the reader). The
  // timestamp has millisecond resolution, so each part is off by up to 1 ms.
  std::vector<double> to_lead, lead_to_read;
  auto split = [&](int k) -> std::pair<double, double> {
    if (lead_created_us[k] < 0) return {-1, -1};
    return {static_cast<double>(lead_created_us[k] - produced_unix_us[k]) / 1000,
            static_cast<double>(read_unix_us[k] - lead_created_us[k]) / 1000};
  };
  for (int k = 0; k < f.probes; ++k) {
    if (received[k] == Clock::time_point{} || lead_created_us[k] < 0) continue;
    to_lead.push_back(split(k).first);
    lead_to_read.push_back(split(k).second);
  }
  std::sort(to_lead.begin(), to_lead.end());
  std::sort(lead_to_read.begin(), lead_to_read.end());
  if (!f.samples.empty()) {
    std::ofstream out(f.samples);
    out << "probe,sent_s,latency_ms,to_lead_ms,lead_to_read_ms\n";
    for (int k = 0; k < f.probes; ++k) {
      if (received[k] == Clock::time_point{}) continue;
      out << absl::StrFormat(
          "%d,%.4f,%.3f,%.3f,%.3f\n", k, Seconds(produced[k] - t0),
          std::chrono::duration<double, std::milli>(received[k] - produced[k]).count(),
          split(k).first, split(k).second);
    }
  }
  std::sort(ms.begin(), ms.end());
  double mean = 0;
  for (double v : ms) mean += v / static_cast<double>(ms.size());
  const double offered_rate = static_cast<double>(n) / offered_s;

  std::printf("%-34s %s\n", "latency", "value");
  std::printf("%-34s %.0f events/s for %.1fs (target %.0f/s; max %.1f ms behind schedule)\n",
              "offered", offered_rate, offered_s, f.rate, max_behind_s * 1000);
  std::printf("%-34s %d of %d (%lld leads read)\n", "probe leads received", matched, f.probes,
              static_cast<long long>(reader.leads()));
  std::printf("%-34s p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
              "event -> lead latency, ms", Percentile(ms, 0.5), Percentile(ms, 0.9),
              Percentile(ms, 0.99), Percentile(ms, 0.999), ms.empty() ? 0 : ms.back(), mean);
  std::printf("%-34s p50 %.1f  p99 %.1f  /  p50 %.1f  p99 %.1f\n",
              "to lead produced / lead to read, ms", Percentile(to_lead, 0.5),
              Percentile(to_lead, 0.99), Percentile(lead_to_read, 0.5),
              Percentile(lead_to_read, 0.99));
  WriteJson(
      f.json,
      absl::StrFormat(
          "{\"benchmark\": \"latency\", \"target_rate\": %.0f, \"offered_rate\": %.0f, "
          "\"seconds\": %.3f, \"events\": %lld, \"max_behind_schedule_ms\": %.3f, \"probes\": %d, "
          "\"received\": %d, \"leads_read\": %lld, \"p50_ms\": %.3f, \"p90_ms\": %.3f, "
          "\"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, \"mean_ms\": %.3f, "
          "\"to_lead_produced_p50_ms\": %.3f, \"to_lead_produced_p99_ms\": %.3f, "
          "\"lead_produced_to_read_p50_ms\": %.3f, \"lead_produced_to_read_p99_ms\": %.3f, "
          "\"start_unix_ms\": %lld}",
          f.rate, offered_rate, offered_s, static_cast<long long>(n), max_behind_s * 1000, f.probes,
          matched, static_cast<long long>(reader.leads()), Percentile(ms, 0.5), Percentile(ms, 0.9),
          Percentile(ms, 0.99), Percentile(ms, 0.999), ms.empty() ? 0 : ms.back(), mean,
          Percentile(to_lead, 0.5), Percentile(to_lead, 0.99), Percentile(lead_to_read, 0.5),
          Percentile(lead_to_read, 0.99), static_cast<long long>(t0_unix_ms)));
  return matched == f.probes ? 0 : 2;
}

// ---------------------------------------------------------------------------------- trickle --

struct TrickleFlags {
  std::string brokers, engagement_topic;
  int count = 60;
};

int Trickle(const TrickleFlags& f) {
  Deliveries deliveries;
  rd_kafka_t* rk = NewProducer(
      f.brokers, deliveries,
      {{"acks", "all"}, {"enable.idempotence", "true"}, {"partitioner", "murmur2_random"}});
  rd_kafka_topic_t* engagement = rd_kafka_topic_new(rk, f.engagement_topic.c_str(), nullptr);
  const std::string nonce = Nonce();
  std::mt19937_64 rng(1);
  baton::v1::EngagementEvent e;
  std::string value;
  for (int i = 0; i < f.count; ++i) {
    const std::string account = absl::StrCat("trickle-", nonce, "-", i);
    FillerEvent(rng, account, e);
    e.set_event_id(absl::StrCat("trickle-", nonce, "-e", i));
    *e.mutable_event_time() = core::ToTimestamp(absl::Now());
    e.SerializeToString(&value);
    Produce(rk, engagement, RD_KAFKA_PARTITION_UA, account, value, kProtobuf);
  }
  FlushOrDie(rk, deliveries, 30'000);
  rd_kafka_topic_destroy(engagement);
  rd_kafka_destroy(rk);
  std::printf("trickle: produced %d engagement events\n", f.count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Baton end-to-end benchmarks against a real Kafka broker"};
  app.require_subcommand(1);

  FillFlags fill;
  CLI::App* fill_cmd = app.add_subcommand("fill", "produce the generated workload");
  fill_cmd->add_option("--brokers", fill.brokers)->required();
  fill_cmd->add_option("--engagement-topic", fill.engagement_topic)->required();
  fill_cmd->add_option("--crm-topic", fill.crm_topic)->required();
  fill_cmd->add_option("--accounts", fill.workload.accounts)->capture_default_str();
  fill_cmd->add_option("--events", fill.workload.events, "events after the CRM load")
      ->capture_default_str();
  fill_cmd->add_option("--seed", fill.workload.seed)->capture_default_str();
  fill_cmd->add_option("--partitions", fill.workload.partitions, "of both input topics")
      ->capture_default_str();
  fill_cmd->add_option("--end-unix", fill.end_unix,
                       "event time of the last event (default: now - 60 s)");
  fill_cmd->add_option("--json", fill.json, "write results here");

  RawFlags raw;
  CLI::App* raw_cmd = app.add_subcommand("raw-consume", "read records as fast as possible");
  raw_cmd->add_option("--brokers", raw.brokers)->required();
  raw_cmd->add_option("--topics", raw.topics, "comma-separated")->required();
  raw_cmd->add_option("--expect", raw.expect, "records to read")->required();
  raw_cmd->add_option("--timeout", raw.timeout_s, "seconds")->capture_default_str();
  raw_cmd->add_option("--json", raw.json, "write results here");

  LatencyFlags lat;
  CLI::App* lat_cmd = app.add_subcommand("latency", "event -> routed lead latency");
  lat_cmd->add_option("--brokers", lat.brokers)->required();
  lat_cmd->add_option("--engagement-topic", lat.engagement_topic)->required();
  lat_cmd->add_option("--crm-topic", lat.crm_topic)->required();
  lat_cmd->add_option("--routed-leads-topic", lat.leads_topic)->required();
  lat_cmd->add_option("--rate", lat.rate, "offered events/s")->capture_default_str();
  lat_cmd->add_option("--seconds", lat.seconds)->capture_default_str();
  lat_cmd->add_option("--probes", lat.probes, "0: rate*seconds/50 in [200, 2000]")
      ->capture_default_str();
  lat_cmd->add_option("--filler-accounts", lat.filler_accounts)->capture_default_str();
  lat_cmd
      ->add_option("--warmup", lat.warmup_s,
                   "seconds of filler before the first probe completes (at most half the run)")
      ->capture_default_str();
  lat_cmd->add_option("--open-gap-ms", lat.open_gap_ms, "between a probe's events")
      ->capture_default_str();
  lat_cmd->add_option("--linger-ms", lat.linger_ms, "of the input producer")->capture_default_str();
  lat_cmd->add_option("--metrics", lat.metrics,
                      "baton's /metrics URL: wait until the probe setup is consumed");
  lat_cmd->add_option("--setup-wait", lat.setup_wait_s, "seconds to wait without --metrics")
      ->capture_default_str();
  lat_cmd->add_option("--drain", lat.drain_s, "seconds to wait for the last leads")
      ->capture_default_str();
  lat_cmd->add_option("--seed", lat.seed)->capture_default_str();
  lat_cmd->add_option("--samples", lat.samples, "write each probe's send time and latency (CSV)");
  lat_cmd->add_option("--json", lat.json, "write results here");

  TrickleFlags trickle;
  CLI::App* trickle_cmd = app.add_subcommand("trickle", "produce a few engagement events");
  trickle_cmd->add_option("--brokers", trickle.brokers)->required();
  trickle_cmd->add_option("--engagement-topic", trickle.engagement_topic)->required();
  trickle_cmd->add_option("--count", trickle.count)->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (fill_cmd->parsed()) return Fill(fill);
  if (raw_cmd->parsed()) return RawConsume(raw);
  if (lat_cmd->parsed()) return Latency(lat);
  return Trickle(trickle);
}
