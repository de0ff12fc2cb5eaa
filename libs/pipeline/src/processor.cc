#include "baton/pipeline/processor.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "baton/core/event.h"
#include "baton/core/ids.h"
#include "frequency_sketch.h"

namespace baton::pipeline {
namespace {

constexpr absl::string_view kOutputIdHeader = "baton-output-id";
constexpr absl::string_view kOutputTypeHeader = "baton-output-type";

// Accounts chosen for eviction are evicted this many before each record and at each commit: a
// record brings at most one account in, so the cache stays near its bound, and no step evicts
// more than about a millisecond's worth.
constexpr size_t kEvictionsPerRecord = 2;
constexpr size_t kEvictionsPerCommit = 64;

// The filter of domains with waiting engagement: 2^20 bits (128 KiB), two probes per domain,
// about 3% false positives (a needless scan) with 100,000 waiting domains.
constexpr size_t kWaitingFilterBits = size_t{1} << 20;

// WaitingFilterBits are a (reversed) domain's two bits in the filter.
std::array<size_t, 2> WaitingFilterBits(absl::string_view reversed) {
  const uint64_t hash = absl::HashOf(reversed);
  return {hash & (kWaitingFilterBits - 1), (hash >> 32) & (kWaitingFilterBits - 1)};
}

const std::string* FindHeader(const InputRecord& record, absl::string_view key,
                              std::string& storage) {
  // The last value wins, as with HTTP-style headers set more than once.
  const HeaderView* found = nullptr;
  for (const HeaderView& h : record.headers) {
    if (h.key == key) found = &h;
  }
  if (found == nullptr) return nullptr;
  storage.assign(found->value.data(), found->value.size());
  return &storage;
}

OutboundRecord Output(OutboundRecord::Topic topic, const std::string& key,
                      const google::protobuf::Message& message, const std::string& id,
                      codec::PayloadFormat format) {
  OutboundRecord out;
  out.topic = topic;
  out.key = key;
  out.value = codec::Encode(message, format);
  out.headers = {
      {std::string(codec::kContentTypeHeader),
       std::string(format == codec::PayloadFormat::kJson ? codec::kJsonContentType
                                                         : codec::kProtobufContentType)},
      {std::string(kOutputIdHeader), id},
      {std::string(kOutputTypeHeader), message.GetDescriptor()->name()},
  };
  return out;
}

// CorruptContacts: an account's stored contacts, read when first needed, did not parse. Like any
// stored record Baton wrote itself that does not parse, it stops processing rather than start the
// contacts over.
absl::Status CorruptContacts(int32_t partition, absl::string_view account_id) {
  return absl::DataLossError(absl::StrCat("stored state of account ", account_id, " in partition ",
                                          partition, ": stored account contacts do not parse"));
}

}  // namespace

std::string AccountKey(int32_t partition, absl::string_view account_id) {
  const auto p = static_cast<uint32_t>(partition);
  std::string key = {static_cast<char>(p >> 24), static_cast<char>(p >> 16),
                     static_cast<char>(p >> 8), static_cast<char>(p)};
  key.append(account_id.data(), account_id.size());
  key.push_back('\0');
  return key;
}

namespace {

// Stored keys hold numbers big-endian, so that byte order is numeric order.
void AppendBigEndian64(std::string& key, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(v >> shift));
}
uint64_t ReadBigEndian64(absl::string_view bytes) {
  uint64_t v = 0;
  for (unsigned char c : bytes.substr(0, 8)) v = (v << 8) | c;
  return v;
}

// TimerDue is the due time in a TimerKey: after the partition (4 bytes) and "\x01t".
int64_t TimerDue(absl::string_view key) {
  return static_cast<int64_t>(ReadBigEndian64(key.substr(6)));
}

}  // namespace

std::string TimerKey(int32_t partition, int64_t due_ms, absl::string_view account_id) {
  std::string key = AccountKey(partition, "");
  key.pop_back();
  key.append("\x01t");
  AppendBigEndian64(key, static_cast<uint64_t>(due_ms));
  key.append(account_id.data(), account_id.size());
  return key;
}

namespace {

std::string PartSuffix(const core::StoredPart& part) {
  if (part.kind == core::StoredPart::Kind::kHead) return "h";
  if (part.kind == core::StoredPart::Kind::kCrm) return "p";
  if (part.kind == core::StoredPart::Kind::kContacts) return "c";
  std::string suffix = "d";
  AppendBigEndian64(suffix, static_cast<uint64_t>(part.day));
  return suffix;
}

absl::StatusOr<core::StoredPart> ParsePart(absl::string_view suffix, std::string value) {
  if (suffix == "h") return core::StoredPart{core::StoredPart::Kind::kHead, 0, std::move(value)};
  if (suffix == "p") return core::StoredPart{core::StoredPart::Kind::kCrm, 0, std::move(value)};
  if (suffix == "c") {
    return core::StoredPart{core::StoredPart::Kind::kContacts, 0, std::move(value)};
  }
  if (suffix.size() == 9 && suffix[0] == 'd') {
    return core::StoredPart{core::StoredPart::Kind::kDay,
                            static_cast<int64_t>(ReadBigEndian64(suffix.substr(1))),
                            std::move(value)};
  }
  return absl::DataLossError("unknown stored account record");
}

// PackParts puts an account's parts in one string: per part, its record suffix (PartSuffix) and
// its value, each after its length (1 and 4 bytes). The string never leaves the process.
std::string PackParts(const std::vector<core::StoredPart>& parts) {
  size_t size = 0;
  for (const core::StoredPart& part : parts) {
    size += 1 + PartSuffix(part).size() + 4 + part.value->size();
  }
  std::string packed;
  packed.reserve(size);
  for (const core::StoredPart& part : parts) {
    const std::string suffix = PartSuffix(part);
    packed.push_back(static_cast<char>(suffix.size()));
    packed.append(suffix);
    const auto length = static_cast<uint32_t>(part.value->size());
    packed.append(reinterpret_cast<const char*>(&length), sizeof(length));
    packed.append(*part.value);
  }
  return packed;
}

// UnpackParts reads back the parts PackParts packed.
absl::StatusOr<std::vector<core::StoredPart>> UnpackParts(absl::string_view packed) {
  std::vector<core::StoredPart> parts;
  while (!packed.empty()) {
    const size_t suffix_size = static_cast<unsigned char>(packed[0]);
    const absl::string_view suffix = packed.substr(1, suffix_size);
    uint32_t length = 0;
    std::memcpy(&length, packed.data() + 1 + suffix_size, sizeof(length));
    packed.remove_prefix(1 + suffix_size + sizeof(length));
    absl::StatusOr<core::StoredPart> part =
        ParsePart(suffix, std::string(packed.substr(0, length)));
    if (!part.ok()) return part.status();
    parts.push_back(std::move(*part));
    packed.remove_prefix(length);
  }
  return parts;
}

}  // namespace

Processor::Processor(ProcessorOptions options, const core::Engine& engine, StateStore& store,
                     Observer& observer)
    : options_(std::move(options)),
      engine_(engine),
      store_(store),
      observer_(observer),
      use_counts_(std::make_unique<FrequencySketch>(options_.max_cached_accounts)) {}

Processor::~Processor() = default;

absl::Status Processor::Process(const InputRecord& record) {
  // Evictions chosen at the last commit are spread over the records that follow it.
  EvictChosen(kEvictionsPerRecord);
  codec::InputKind kind;
  if (record.topic == options_.engagement_topic || record.topic == options_.matched_topic) {
    kind = codec::InputKind::kEngagement;
  } else if (record.topic == options_.crm_topic) {
    kind = codec::InputKind::kCrm;
  } else {
    return absl::InternalError(absl::StrCat("record from unexpected topic ", record.topic));
  }

  std::string content_type;
  absl::StatusOr<core::InputEvent> event = [&]() -> absl::StatusOr<core::InputEvent> {
    absl::StatusOr<codec::PayloadFormat> format =
        codec::ParseContentType(FindHeader(record, codec::kContentTypeHeader, content_type));
    if (!format.ok()) return format.status();
    return codec::DecodeInput(kind, record.value, *format, options_.decode);
  }();

  if (event.ok()) {
    absl::Time& latest = partition_time_[record.partition];
    latest = std::max(latest, core::EventTimeOf(*event));
  }
  if (const auto* crm = event.ok() ? std::get_if<baton::v1::CrmEvent>(&*event) : nullptr;
      crm != nullptr && crm->has_rep_status()) {
    // A rep's status names no account: it changes the routing team only.
    absl::StatusOr<core::Team*> team = Team();
    if (!team.ok()) return team.status();
    core::Account none;
    absl::StatusOr<core::Effects> effects = engine_.Apply(*event, none, **team);
    if (!effects.ok()) DeadLetter(record, effects.status());
    offsets_[TopicPartition{std::string(record.topic), record.partition}] = record.offset + 1;
    ++stats_.consumed_by_topic[std::string(record.topic)];
    ++stats_.events;
    return absl::OkStatus();
  }
  if (event.ok() && core::AccountIdOf(*event).empty()) {
    if (record.topic != options_.engagement_topic) {
      event = absl::InvalidArgumentError("missing_field: account_id is required");
    } else {
      absl::Status s = Match(record, std::get<baton::v1::EngagementEvent>(std::move(*event)));
      if (!s.ok()) return s;
      offsets_[TopicPartition{std::string(record.topic), record.partition}] = record.offset + 1;
      ++stats_.consumed_by_topic[std::string(record.topic)];
      ++stats_.events;
      return absl::OkStatus();
    }
  }
  if (event.ok()) {
    const absl::string_view account_id = core::AccountIdOf(*event);
    absl::StatusOr<core::Account*> account = Account(record.partition, account_id);
    if (!account.ok()) return account.status();
    absl::StatusOr<core::Team*> team = Team();
    if (!team.ok()) return team.status();
    const int64_t due_before = (*account)->head().timer_due_ms();
    // On error the engine leaves the account untouched.
    absl::StatusOr<core::Effects> effects = engine_.Apply(*event, **account, **team);
    if ((*account)->contacts_corrupt()) return CorruptContacts(record.partition, account_id);
    if (effects.ok()) {
      IndexTimer(record.partition, **account, due_before);
      if (const auto* crm = std::get_if<baton::v1::CrmEvent>(&*event); crm && !effects->duplicate) {
        if (absl::Status s = UpdateDirectory(*crm); !s.ok()) return s;
      }
      stats_.duplicates += effects->duplicate;
      stats_.late += effects->late;
      Stage(*effects, std::string(account_id));
    } else {
      DeadLetter(record, effects.status());
    }
  } else {
    DeadLetter(record, event.status());
  }
  offsets_[TopicPartition{std::string(record.topic), record.partition}] = record.offset + 1;
  ++stats_.consumed_by_topic[std::string(record.topic)];
  ++stats_.events;
  return absl::OkStatus();
}

namespace {

// Directory keys live in the store's global range: a partition number no partition has.
const std::string kDirectory("\xff\xff\xff\xff", 4);

std::string ContactKey(absl::string_view contact_id) {
  return absl::StrCat(kDirectory, "c", contact_id, absl::string_view("\0", 1));
}
std::string EmailKey(absl::string_view email) {
  return absl::StrCat(kDirectory, "e", absl::AsciiStrToLower(email), absl::string_view("\0", 1));
}
std::string DomainKey(absl::string_view domain) {
  return absl::StrCat(kDirectory, "d", domain, absl::string_view("\0", 1));
}
// Waiting engagement is filed under its email domain, reversed, so that a domain and all its
// subdomains are one key range: kDirectory "w" ReversedDomain "\0" event-id-hash.
const std::string kWaiting = absl::StrCat(kDirectory, "w");
std::string WaitingPrefix(absl::string_view domain) {
  return absl::StrCat(kWaiting, core::ReversedDomain(domain));
}

}  // namespace

const std::optional<std::string>* Processor::PendingWrite(const std::string& key) const {
  for (const DirectoryWrites* writes : {&directory_writes_, &landing_writes_}) {
    if (auto it = writes->by_key.find(key); it != writes->by_key.end()) return &it->second;
  }
  return nullptr;
}

absl::StatusOr<std::optional<std::string>> Processor::DirectoryGet(const std::string& key) {
  if (const std::optional<std::string>* pending = PendingWrite(key)) return *pending;
  return store_.Get(key);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Processor::DirectoryScan(
    const std::string& prefix) {
  auto stored = store_.Scan(prefix);
  if (!stored.ok()) return stored.status();
  std::map<std::string, std::string> merged;
  for (auto& [suffix, value] : *stored) merged[prefix + suffix] = std::move(value);
  // The landing unit's writes, then this unit's, over the store's.
  for (const DirectoryWrites* writes : {&landing_writes_, &directory_writes_}) {
    for (auto it = writes->waiting.lower_bound(prefix);
         it != writes->waiting.end() && absl::StartsWith(it->first, prefix); ++it) {
      if (it->second) {
        merged[it->first] = *it->second;
      } else {
        merged.erase(it->first);
      }
    }
  }
  return std::vector<std::pair<std::string, std::string>>(merged.begin(), merged.end());
}

const core::FreeMailDomains& Processor::FreeMail() {
  // The list comes from the rule file in force; rebuild it when the rules are reloaded.
  if (free_mail_rules_ != &engine_.rules()) {
    free_mail_rules_ = &engine_.rules();
    const auto& listed = engine_.rules().file().matching().free_mail_domains();
    free_mail_.emplace(std::vector<std::string>(listed.begin(), listed.end()));
  }
  return *free_mail_;
}

void Processor::Rekey(baton::v1::EngagementEvent event, const std::string& account_id,
                      baton::v1::MatchMethod method) {
  event.set_account_id(account_id);
  event.set_matched_by(method);
  OutboundRecord out;
  out.topic = OutboundRecord::Topic::kMatched;
  out.key = account_id;
  out.value = event.SerializeAsString();
  out.headers = {
      {std::string(codec::kContentTypeHeader), std::string(codec::kProtobufContentType)}};
  outputs_.push_back(std::move(out));
  ++stats_.matched_by_method[baton::v1::MatchMethod_Name(method)];
}

absl::Status Processor::Match(const InputRecord& record, baton::v1::EngagementEvent event) {
  // 1. A contact the CRM linked to an account, by id or by email.
  for (const std::string& key :
       {event.contact_id().empty() ? std::string() : ContactKey(event.contact_id()),
        event.contact_email().empty() ? std::string() : EmailKey(event.contact_email())}) {
    if (key.empty()) continue;
    auto account = DirectoryGet(key);
    if (!account.ok()) return account.status();
    if (*account) {
      Rekey(std::move(event), **account, baton::v1::KNOWN_CONTACT);
      return absl::OkStatus();
    }
  }
  // 2. The email's domain or a parent domain, never free mail.
  const std::string domain = core::EmailDomain(event.contact_email());
  const bool free_mail = domain.empty() || FreeMail().Contains(domain);
  if (!free_mail) {
    for (const std::string& candidate : core::DomainCandidates(domain)) {
      auto account = DirectoryGet(DomainKey(candidate));
      if (!account.ok()) return account.status();
      if (*account) {
        Rekey(std::move(event), **account, baton::v1::EMAIL_DOMAIN);
        return absl::OkStatus();
      }
    }
  }
  // 3. Unmatched: to the unmatched queue, and (unless free mail) kept for a later match.
  OutboundRecord out;
  out.topic = OutboundRecord::Topic::kUnmatched;
  out.key = domain;
  out.value = std::string(record.value);
  for (const HeaderView& h : record.headers) {
    out.headers.push_back({std::string(h.key), std::string(h.value)});
  }
  out.headers.push_back({"baton-unmatched-reason",
                         domain.empty() ? "no account id, unknown contact and no email domain"
                         : free_mail
                             ? "no account id, unknown contact and a free-mail domain"
                             : "no account id, unknown contact and no account with this domain"});
  out.headers.push_back({"baton-queue", engine_.rules().policy().unmatched_queue()});
  out.headers.push_back({"baton-source-topic", std::string(record.topic)});
  out.headers.push_back({"baton-source-partition", absl::StrCat(record.partition)});
  out.headers.push_back({"baton-source-offset", absl::StrCat(record.offset)});
  outputs_.push_back(std::move(out));
  ++stats_.unmatched;
  if (!free_mail) {
    std::string key = WaitingPrefix(domain);
    NoteWaiting(absl::string_view(key).substr(kWaiting.size()));
    key.push_back('\0');
    AppendBigEndian64(key, core::StableHash64({event.event_id()}));
    directory_writes_.waiting[key] = event.SerializeAsString();
  }
  return absl::OkStatus();
}

absl::Status Processor::UpdateDirectory(const baton::v1::CrmEvent& event) {
  // Waiting engagement released by this upsert: (waiting key, event, method).
  auto release = [this](absl::string_view domain, bool subdomains, const std::string& account_id,
                        baton::v1::MatchMethod method,
                        absl::string_view only_email) -> absl::Status {
    std::string prefix = WaitingPrefix(domain);
    absl::StatusOr<bool> may = MayBeWaiting(absl::string_view(prefix).substr(kWaiting.size()));
    if (!may.ok()) return may.status();
    if (!*may) return absl::OkStatus();
    if (!subdomains) prefix.push_back('\0');
    auto waiting = DirectoryScan(prefix);
    if (!waiting.ok()) return waiting.status();
    for (auto& [key, value] : *waiting) {
      baton::v1::EngagementEvent parked;
      if (!parked.ParseFromString(value)) {
        return absl::DataLossError("stored waiting engagement does not parse");
      }
      if (!only_email.empty() && !absl::EqualsIgnoreCase(parked.contact_email(), only_email)) {
        continue;
      }
      directory_writes_.waiting[key] = std::nullopt;
      Rekey(std::move(parked), account_id, method);
    }
    return absl::OkStatus();
  };
  if (event.has_contact_upsert()) {
    const auto& c = event.contact_upsert();
    directory_writes_.by_key[ContactKey(c.contact_id())] = c.account_id();
    if (!c.email().empty()) {
      directory_writes_.by_key[EmailKey(c.email())] = c.account_id();
      const std::string domain = core::EmailDomain(c.email());
      if (!domain.empty()) {
        return release(domain, /*subdomains=*/false, c.account_id(), baton::v1::KNOWN_CONTACT,
                       c.email());
      }
    }
  } else if (event.has_account_upsert()) {
    const auto& a = event.account_upsert();
    for (const std::string& raw : a.domains()) {
      const std::string domain = core::NormalizeDomain(raw);
      if (domain.empty() || FreeMail().Contains(domain)) continue;
      directory_writes_.by_key[DomainKey(domain)] = a.account_id();
      if (absl::Status s =
              release(domain, /*subdomains=*/true, a.account_id(), baton::v1::EMAIL_DOMAIN, "");
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

void Processor::NoteWaiting(absl::string_view reversed) {
  if (waiting_bits_.empty()) return;  // built, with this too, when first asked
  // The domain and each parent: an upsert naming a parent releases a subdomain's engagement.
  for (size_t dot = reversed.find('.'); dot != absl::string_view::npos;
       dot = reversed.find('.', dot + 1)) {
    for (size_t bit : WaitingFilterBits(reversed.substr(0, dot + 1))) {
      waiting_bits_[bit / 64] |= uint64_t{1} << (bit % 64);
    }
  }
}

absl::StatusOr<bool> Processor::MayBeWaiting(absl::string_view reversed) {
  if (waiting_bits_.empty()) {
    // Built from every waiting key, in the store and not yet in it.
    auto waiting = DirectoryScan(kWaiting);
    if (!waiting.ok()) return waiting.status();
    waiting_bits_.assign(kWaitingFilterBits / 64, 0);
    for (const auto& [key, value] : *waiting) {
      const absl::string_view rest = absl::string_view(key).substr(kWaiting.size());
      NoteWaiting(rest.substr(0, rest.find('\0')));
    }
  }
  for (size_t bit : WaitingFilterBits(reversed)) {
    if ((waiting_bits_[bit / 64] & uint64_t{1} << (bit % 64)) == 0) return false;
  }
  return true;
}

void Processor::DeadLetter(const InputRecord& record, const absl::Status& reason) {
  OutboundRecord out;
  out.topic = OutboundRecord::Topic::kDeadLetter;
  out.key = std::string(record.key);
  out.value = std::string(record.value);
  for (const HeaderView& h : record.headers) {
    out.headers.push_back({std::string(h.key), std::string(h.value)});
  }
  const std::string code(codec::ReasonCode(reason));
  out.headers.push_back({"baton-error-code", code});
  out.headers.push_back({"baton-error-reason", std::string(reason.message())});
  out.headers.push_back({"baton-source-topic", std::string(record.topic)});
  out.headers.push_back({"baton-source-partition", absl::StrCat(record.partition)});
  out.headers.push_back({"baton-source-offset", absl::StrCat(record.offset)});
  outputs_.push_back(std::move(out));
  ++stats_.deadlettered_by_reason[code];
}

void Processor::Stage(const core::Effects& effects, const std::string& account_id) {
  for (const auto& lead : effects.leads) {
    outputs_.push_back(Output(OutboundRecord::Topic::kRoutedLeads, account_id, lead, lead.lead_id(),
                              options_.output_format));
    ++stats_.routed_leads;
  }
  for (const auto& alert : effects.alerts) {
    outputs_.push_back(Output(OutboundRecord::Topic::kAlerts, account_id, alert, alert.alert_id(),
                              options_.output_format));
    ++stats_.alerts_by_kind[baton::v1::AlertKind_Name(alert.kind())];
    if (alert.kind() == baton::v1::HANDOFF || alert.kind() == baton::v1::ROUTING_FAILURE) {
      ++stats_.handoffs[{alert.rule_name(), baton::v1::Tier_Name(alert.tier())}];
    }
  }
  for (const std::string& outcome : effects.sla_outcomes) ++stats_.sla_outcomes[outcome];
  for (const std::string& reason : effects.rejections) ++stats_.rejections[reason];
  stats_.accepted += effects.accepted;
  for (absl::Duration d : effects.follow_up_times) {
    stats_.follow_up_seconds.push_back(absl::ToDoubleSeconds(d));
  }
}

namespace {
// The routing team's records live in the directory's global range: "r" + rep id, "p" + pool.
std::string RepKey(absl::string_view rep_id) {
  return absl::StrCat(kDirectory, "r", rep_id, absl::string_view("\0", 1));
}
std::string PoolKey(absl::string_view pool) {
  return absl::StrCat(kDirectory, "p", pool, absl::string_view("\0", 1));
}
}  // namespace

absl::StatusOr<core::Team*> Processor::Team() {
  if (team_) return &*team_;
  std::vector<baton::internal::v1::RepState> reps;
  std::vector<baton::internal::v1::PoolState> pools;
  for (const char* kind : {"r", "p"}) {
    auto stored = store_.Scan(absl::StrCat(kDirectory, kind));
    if (!stored.ok()) return stored.status();
    for (const auto& [key, value] : *stored) {
      const bool ok = *kind == 'r' ? reps.emplace_back().ParseFromString(value)
                                   : pools.emplace_back().ParseFromString(value);
      if (!ok) return absl::DataLossError("stored routing team record does not parse");
    }
  }
  team_.emplace(std::move(reps), std::move(pools));
  return &*team_;
}

void Processor::IndexTimer(int32_t partition, const core::Account& account, int64_t before) {
  const int64_t after = account.head().timer_due_ms();
  if (after == before) return;
  const std::string& id = account.head().account_id();
  if (before != 0) directory_writes_.by_key[TimerKey(partition, before, id)] = std::nullopt;
  if (after != 0) directory_writes_.by_key[TimerKey(partition, after, id)] = std::string();
}

absl::Status Processor::ExpireTimers(const std::vector<int32_t>& partitions, absl::Time now) {
  size_t budget = options_.max_expired_per_call;
  for (int32_t partition : partitions) {
    absl::Time until = now - options_.timer_grace;
    if (options_.timers_on_event_time) {
      auto it = partition_time_.find(partition);
      if (it == partition_time_.end()) continue;
      until = it->second;
    }
    const int64_t until_ms = absl::ToUnixMillis(until);
    if (until_ms <= 0 || budget == 0) continue;
    auto due =
        store_.ScanRange(TimerKey(partition, 0, ""), TimerKey(partition, until_ms + 1, ""), budget);
    if (!due.ok()) return due.status();
    const size_t prefix = TimerKey(partition, 0, "").size();
    for (const auto& [key, unused] : *due) {
      // An entry this unit or the landing one already moved or removed is stale.
      if (const std::optional<std::string>* pending = PendingWrite(key);
          pending != nullptr && !*pending) {
        continue;
      }
      --budget;
      const std::string account_id = key.substr(prefix);
      absl::StatusOr<core::Account*> account = Account(partition, account_id);
      if (!account.ok()) return account.status();
      absl::StatusOr<core::Team*> team = Team();
      if (!team.ok()) return team.status();
      const int64_t indexed = TimerDue(key);
      const int64_t before = (*account)->head().timer_due_ms();
      if (before != indexed) {
        // A leftover entry (the account's timer moved in a unit that also wrote this one).
        directory_writes_.by_key[key] = std::nullopt;
        continue;
      }
      core::Effects effects = engine_.Expire(**account, **team, until);
      if ((*account)->contacts_corrupt()) return CorruptContacts(partition, account_id);
      IndexTimer(partition, **account, before);
      if (!options_.timers_on_event_time) {
        for (absl::Time fired : effects.timers_fired) {
          stats_.timer_lateness_seconds.push_back(absl::ToDoubleSeconds(now - fired));
        }
      }
      Stage(effects, account_id);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> Processor::NextTimer(const std::vector<int32_t>& partitions) {
  absl::Time next = absl::InfiniteFuture();
  for (int32_t partition : partitions) {
    auto first = store_.ScanRange(TimerKey(partition, 0, ""),
                                  TimerKey(partition, std::numeric_limits<int64_t>::max(), ""), 1);
    if (!first.ok()) return first.status();
    if (first->empty()) continue;
    next = std::min(next, absl::FromUnixMillis(TimerDue(first->front().first)));
  }
  return next;
}

absl::StatusOr<core::Account*> Processor::Account(int32_t partition, absl::string_view account_id) {
  std::string key = AccountKey(partition, account_id);
  const uint64_t key_hash = absl::HashOf(key);
  use_counts_->Add(key_hash);
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    it->second.last_used = unit_;
    if (it->second.used_in != building_) {
      it->second.used_in = building_;
      used_.push_back(key);
    }
    return &it->second.account;
  }
  std::vector<core::StoredPart> parts;
  if (auto kept = serialized_.find(key); kept != serialized_.end()) {
    absl::StatusOr<std::vector<core::StoredPart>> unpacked = UnpackParts(kept->second.packed);
    serialized_bytes_ -= kept->second.bytes;
    serialized_.erase(kept);
    if (!unpacked.ok()) return unpacked.status();
    parts = *std::move(unpacked);
  } else {
    ++stats_.account_loads;
    // One range scan: the store's prefix filters make it cheap for a new account.
    auto stored = store_.Scan(key);
    if (!stored.ok()) return stored.status();
    parts.reserve(stored->size());
    for (auto& [suffix, value] : *stored) {
      absl::StatusOr<core::StoredPart> part = ParsePart(suffix, std::move(value));
      if (!part.ok()) return part.status();
      parts.push_back(std::move(*part));
    }
  }
  absl::StatusOr<core::Account> account = core::Account::Restore(std::move(parts));
  if (!account.ok()) {
    // A record Baton wrote itself does not parse: the store is corrupt. Stop loudly rather than
    // silently start the account over.
    return absl::DataLossError(absl::StrCat("stored state of account ", account_id,
                                            " in partition ", partition, ": ",
                                            account.status().message()));
  }
  used_.push_back(key);
  return &cache_.emplace(std::move(key), Cached{std::move(*account), unit_, key_hash, building_})
              .first->second.account;
}

namespace {

// A changelog record holding an input partition's next offset: the key is this prefix (a
// partition number no partition has) and the input topic; the value the offset, big-endian.
const std::string kOffsetRecordPrefix("\xff\xff\xff\xfeo", 5);

// PartitionOfKey is the partition a stored record belongs to; -1 for the global range.
int32_t PartitionOfKey(absl::string_view key) {
  uint32_t p = 0;
  for (unsigned char c : key.substr(0, 4)) p = (p << 8) | c;
  return static_cast<int32_t>(p);
}

// ChangelogOf is a unit's changelog: a record per store write, then one per input partition
// holding its next offset (their keys and values are kept in `offset_records`). The entries
// refer to the batch, not copies of it. Global records (the directory and the team) go with the
// unit's lowest partition, so that a restart, which replays every owned partition's tail, finds
// them in order with the unit's other records; a unit that names no partition has no changelog.
std::vector<ChangelogEntry> ChangelogOf(
    const StateBatch& batch, std::vector<std::pair<std::string, std::string>>& offset_records) {
  std::vector<ChangelogEntry> changelog;
  changelog.reserve(batch.writes.size() + batch.offsets.size());
  int32_t global = std::numeric_limits<int32_t>::max();
  bool has_global = false;
  for (const auto& [key, value] : batch.writes) {
    const int32_t p = PartitionOfKey(key);
    if (p >= 0) global = std::min(global, p);
    has_global |= p < 0;
    changelog.push_back({p, key, value.has_value() ? &*value : nullptr});
  }
  for (const auto& [tp, offset] : batch.offsets) global = std::min(global, tp.partition);
  if (global == std::numeric_limits<int32_t>::max()) return {};
  if (has_global) {
    for (ChangelogEntry& entry : changelog) {
      if (entry.partition < 0) entry.partition = global;
    }
  }
  offset_records.clear();
  offset_records.reserve(batch.offsets.size());
  for (const auto& [tp, offset] : batch.offsets) {
    std::string value;
    AppendBigEndian64(value, static_cast<uint64_t>(offset));
    offset_records.emplace_back(kOffsetRecordPrefix + tp.topic, std::move(value));
  }
  auto record = offset_records.begin();
  for (const auto& [tp, offset] : batch.offsets) {
    changelog.push_back({tp.partition, record->first, &record->second});
    ++record;
  }
  return changelog;
}

}  // namespace

absl::StatusOr<Offsets> Processor::Commit(OutputSink& sink) {
  SealedUnit unit = Seal();
  const absl::Status landed = Land(unit, sink);
  return Finish(unit, landed);
}

SealedUnit Processor::Seal() {
  SealedUnit unit;
  StateBatch& batch = unit.batch;
  // Only an account used in the unit can have changed.
  for (const std::string& key : used_) {
    auto it = cache_.find(key);
    if (it == cache_.end()) continue;
    core::Account& account = it->second.account;
    if (!account.dirty()) continue;
    // On a failed commit the caller rewinds, dropping every cached account: taking the changes
    // here loses nothing.
    for (core::StoredPart& part : account.TakeChanges()) {
      batch.writes.emplace_back(key + PartSuffix(part), std::move(part.value));
    }
  }
  used_.clear();
  ++building_;
  if (team_ && team_->dirty()) {
    core::Team::Changes changes = team_->TakeChanges();
    for (const auto& rep : changes.reps) {
      batch.writes.emplace_back(RepKey(rep.rep_id()), rep.SerializeAsString());
    }
    for (const auto& pool : changes.pools) {
      batch.writes.emplace_back(PoolKey(pool.pool()), pool.SerializeAsString());
    }
  }
  // The directory writes stay readable from memory until the unit has landed.
  for (const auto& [key, value] : directory_writes_.by_key) batch.writes.emplace_back(key, value);
  for (const auto& [key, value] : directory_writes_.waiting) batch.writes.emplace_back(key, value);
  landing_writes_ = std::move(directory_writes_);
  directory_writes_.clear();
  // Sized for a unit like this one: growing a table of tens of thousands of keys from empty
  // rehashes it a dozen times.
  directory_writes_.by_key.reserve(landing_writes_.by_key.size());
  batch.offsets = offsets_;
  unit.publish = !outputs_.empty() || sent_early_;
  unit.outputs = std::move(outputs_);
  unit.input_offsets = std::move(offsets_);
  unit.stats = std::move(stats_);
  outputs_.clear();
  offsets_.clear();
  stats_ = CommitStats{};
  sent_early_ = false;
  return unit;
}

absl::Status Processor::Land(SealedUnit& unit, OutputSink& sink) {
  const absl::Time start = absl::Now();
  // The changelog refers to the batch's own records, which the store write below reads again.
  std::vector<std::pair<std::string, std::string>> offset_records;
  const std::vector<ChangelogEntry> changelog = ChangelogOf(unit.batch, offset_records);
  if (unit.publish || !changelog.empty()) {
    absl::StatusOr<ChangelogPositions> positions =
        sink.Publish(unit.outputs, changelog, unit.input_offsets);
    if (!positions.ok()) {
      unit.failed_stage = "publish";
      return positions.status();
    }
    for (const auto& [partition, next] : *positions) {
      unit.batch.offsets[TopicPartition{options_.changelog_topic, partition}] = next;
    }
  }
  if (absl::Status s = store_.Commit(unit.batch); !s.ok()) {
    unit.failed_stage = "store";
    return s;
  }
  unit.took = absl::Now() - start;
  return absl::OkStatus();
}

absl::StatusOr<Offsets> Processor::Finish(SealedUnit& unit, const absl::Status& landed) {
  landing_writes_.clear();
  if (!landed.ok()) {
    observer_.CommitFailed(unit.failed_stage);
    return landed;
  }
  observer_.Committed(unit.stats, unit.took);
  EvictClean();
  observer_.CachedAccounts(cache_.size());
  return std::move(unit.input_offsets);
}

absl::StatusOr<std::optional<int64_t>> Processor::ChangelogPosition(int32_t partition) {
  return store_.LoadOffset(TopicPartition{options_.changelog_topic, partition});
}

absl::Status Processor::RestoreChangelog(int32_t partition,
                                         const std::vector<ChangelogRecord>& records,
                                         int64_t next_offset) {
  StateBatch batch;
  batch.writes.reserve(records.size());
  for (const ChangelogRecord& record : records) {
    if (absl::StartsWith(record.key, kOffsetRecordPrefix)) {
      if (!record.value || record.value->size() != 8) {
        return absl::DataLossError(absl::StrCat("changelog partition ", partition,
                                                ": an input offset record without 8 bytes"));
      }
      batch.offsets[TopicPartition{record.key.substr(kOffsetRecordPrefix.size()), partition}] =
          static_cast<int64_t>(ReadBigEndian64(*record.value));
      continue;
    }
    batch.writes.emplace_back(record.key, record.value);
  }
  batch.offsets[TopicPartition{options_.changelog_topic, partition}] = next_offset;
  DropSerializedPartition(partition);  // the store moves ahead of them
  waiting_bits_.clear();               // and may hold engagement waiting under other domains
  return store_.Commit(batch);
}

absl::Status Processor::SendOutputs(OutputSink& sink) {
  if (outputs_.empty() || !sink.SendsEarly()) return absl::OkStatus();
  sent_early_ = true;
  return sink.Send(outputs_);
}

void Processor::Rewind() {
  landing_writes_.clear();
  outputs_.clear();
  sent_early_ = false;
  directory_writes_.clear();
  offsets_.clear();
  stats_ = CommitStats{};
  cache_.clear();
  used_.clear();
  chosen_.clear();
  waiting_bits_.clear();
  // The changelog tail may bring the store ahead of what was evicted.
  serialized_.clear();
  serialized_order_.clear();
  serialized_bytes_ = 0;
  team_.reset();
  observer_.CachedAccounts(0);
}

absl::StatusOr<std::optional<int64_t>> Processor::ResumeOffset(const TopicPartition& tp) {
  return store_.LoadOffset(tp);
}

void Processor::ForgetPartitions(const std::vector<TopicPartition>& partitions) {
  for (const TopicPartition& tp : partitions) {
    absl::erase_if(cache_, [&](const auto& entry) {
      return !entry.second.account.dirty() && PartitionOfKey(entry.first) == tp.partition;
    });
    DropSerializedPartition(tp.partition);
  }
  observer_.CachedAccounts(cache_.size());
}

void Processor::EvictClean() {
  ++unit_;
  // The cache is ranked once per many commits (ChooseEvictions), but the accounts chosen are
  // evicted a few per record and per commit: evicting them all at once stalled the processing
  // thread, and every record waiting for it, for milliseconds. A commit still evicts whatever
  // is over the bound, however the accounts came in (expiring timers bring many without records).
  EvictChosen(kEvictionsPerCommit);
  const size_t bound = options_.max_cached_accounts;
  if (chosen_.empty() && cache_.size() > bound - bound / 20) ChooseEvictions();
  while (cache_.size() > bound) {
    if (chosen_.empty() && !ChooseEvictions()) return;  // every cached account is dirty
    EvictChosen(cache_.size() - bound);
  }
}

bool Processor::ChooseEvictions() {
  // Down to 85% of the bound, so that ranking runs once per many commits, and the records that
  // follow evict the chosen before the cache is full again.
  const size_t target = options_.max_cached_accounts - options_.max_cached_accounts * 3 / 20;
  if (cache_.size() <= target) return false;
  // Rank clean accounts by how often they were used lately, then by when last: an account
  // that comes back every few seconds outlives one touched once in the last commit.
  auto rank = [this](const Cached& cached) {
    constexpr uint64_t kUnitBits = 40;
    const uint64_t recency = std::min(cached.last_used, (uint64_t{1} << kUnitBits) - 1);
    return uint64_t{use_counts_->Estimate(cached.key_hash)} << kUnitBits | recency;
  };
  std::vector<uint64_t> ranks;
  ranks.reserve(cache_.size());
  for (const auto& [key, cached] : cache_) {
    if (!cached.account.dirty()) ranks.push_back(rank(cached));
  }
  if (ranks.empty()) return false;
  const size_t evict = std::min(ranks.size(), cache_.size() - target);
  std::nth_element(ranks.begin(), ranks.begin() + static_cast<long>(evict) - 1, ranks.end());
  const uint64_t cutoff = ranks[evict - 1];
  chosen_.reserve(evict);
  for (const auto& [key, cached] : cache_) {
    if (chosen_.size() == evict) break;
    if (!cached.account.dirty() && rank(cached) <= cutoff) chosen_.push_back(key);
  }
  chosen_in_ = unit_;
  return true;
}

void Processor::EvictChosen(size_t n) {
  for (; n > 0 && !chosen_.empty(); --n) {
    auto it = cache_.find(chosen_.back());
    chosen_.pop_back();
    // An account used since it was chosen stays: it may be dirty, or clean with its writes
    // still landing (the store behind it). One not used since was clean and landed when chosen.
    if (it == cache_.end() || it->second.last_used >= chosen_in_) continue;
    KeepSerialized(it->first, std::move(it->second.account));
    cache_.erase(it);
  }
}

void Processor::KeepSerialized(const std::string& key, core::Account&& account) {
  // Stored contacts that did not parse stay only in the store, which reports them again.
  if (options_.serialized_cache_bytes == 0 || account.contacts_corrupt()) return;
  Serialized entry;
  entry.packed = PackParts(std::move(account).Release());
  // The parts, plus the key (held twice) and the bookkeeping of the entry: the map's slot with
  // its spare capacity, the order entry, the allocator's rounding. Summed with
  // malloc_usable_size over a full tier in core_bench, entries took about 1.55 KiB each, of
  // which this is the part not in the packed string or the keys.
  constexpr size_t kEntryOverhead = 384;
  entry.bytes = entry.packed.capacity() + 2 * key.size() + kEntryOverhead;
  if (entry.bytes > options_.serialized_cache_bytes) return;
  entry.seq = ++serialized_seq_;
  serialized_bytes_ += entry.bytes;
  serialized_order_.emplace_back(key, entry.seq);
  serialized_[key] = std::move(entry);
  while (serialized_bytes_ > options_.serialized_cache_bytes) {
    auto [oldest, seq] = std::move(serialized_order_.front());
    serialized_order_.pop_front();
    auto it = serialized_.find(oldest);
    if (it == serialized_.end() || it->second.seq != seq) continue;  // read back since
    serialized_bytes_ -= it->second.bytes;
    serialized_.erase(it);
  }
  // Keys read back leave stale entries in the order: drop them once they are most of it.
  if (serialized_order_.size() > 2 * serialized_.size() + 1024) {
    std::erase_if(serialized_order_, [this](const auto& filed) {
      auto it = serialized_.find(filed.first);
      return it == serialized_.end() || it->second.seq != filed.second;
    });
  }
}

void Processor::DropSerializedPartition(int32_t partition) {
  absl::erase_if(serialized_, [&](const auto& entry) {
    if (PartitionOfKey(entry.first) != partition) return false;
    serialized_bytes_ -= entry.second.bytes;
    return true;
  });
}

}  // namespace baton::pipeline
