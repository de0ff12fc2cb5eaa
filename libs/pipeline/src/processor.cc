#include "baton/pipeline/processor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "baton/core/event.h"

namespace baton::pipeline {
namespace {

constexpr absl::string_view kOutputIdHeader = "baton-output-id";
constexpr absl::string_view kOutputTypeHeader = "baton-output-type";

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

std::string PartSuffix(const core::StoredPart& part) {
  if (part.kind == core::StoredPart::Kind::kHead) return "h";
  std::string suffix = "d";
  const auto day = static_cast<uint64_t>(part.day);
  for (int shift = 56; shift >= 0; shift -= 8) suffix.push_back(static_cast<char>(day >> shift));
  return suffix;
}

absl::StatusOr<core::StoredPart> ParsePart(absl::string_view suffix, std::string value) {
  if (suffix == "h") return core::StoredPart{core::StoredPart::Kind::kHead, 0, std::move(value)};
  if (suffix.size() == 9 && suffix[0] == 'd') {
    uint64_t day = 0;
    for (unsigned char c : suffix.substr(1)) day = (day << 8) | c;
    return core::StoredPart{core::StoredPart::Kind::kDay, static_cast<int64_t>(day),
                            std::move(value)};
  }
  return absl::DataLossError("unknown stored account record");
}

}  // namespace

Processor::Processor(ProcessorOptions options, const core::Engine& engine, StateStore& store,
                     Observer& observer)
    : options_(std::move(options)), engine_(engine), store_(store), observer_(observer) {}

absl::Status Processor::Process(const InputRecord& record) {
  codec::InputKind kind;
  if (record.topic == options_.engagement_topic) {
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
    const absl::string_view account_id = core::AccountIdOf(*event);
    absl::StatusOr<core::Account*> account = Account(record.partition, account_id);
    if (!account.ok()) return account.status();
    // On error the engine leaves the account untouched.
    absl::StatusOr<core::Effects> effects = engine_.Apply(*event, **account);
    if (effects.ok()) {
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
}

absl::StatusOr<core::Account*> Processor::Account(int32_t partition, absl::string_view account_id) {
  std::string key = AccountKey(partition, account_id);
  auto it = cache_.find(key);
  if (it != cache_.end()) return &it->second;
  auto stored = store_.LoadAccount(key);
  if (!stored.ok()) return stored.status();
  std::vector<core::StoredPart> parts;
  for (auto& [suffix, value] : *stored) {
    absl::StatusOr<core::StoredPart> part = ParsePart(suffix, std::move(value));
    if (!part.ok()) return part.status();
    parts.push_back(std::move(*part));
  }
  absl::StatusOr<core::Account> account = core::Account::Restore(parts);
  if (!account.ok()) {
    // A record Baton wrote itself does not parse: the store is corrupt. Stop loudly rather than
    // silently start the account over.
    return absl::DataLossError(absl::StrCat("stored state of account ", account_id,
                                            " in partition ", partition, ": ",
                                            account.status().message()));
  }
  return &cache_.emplace(std::move(key), std::move(*account)).first->second;
}

absl::StatusOr<Offsets> Processor::Commit(OutputSink& sink) {
  const absl::Time start = absl::Now();
  if (!outputs_.empty()) {
    if (absl::Status s = sink.Publish(outputs_); !s.ok()) {
      observer_.CommitFailed("publish");
      return s;
    }
  }
  StateBatch batch;
  for (auto& [key, account] : cache_) {
    if (!account.dirty()) continue;
    // On a failed commit the caller rewinds, dropping every cached account: taking the changes
    // here loses nothing.
    for (core::StoredPart& part : account.TakeChanges()) {
      batch.writes.emplace_back(key + PartSuffix(part), std::move(part.value));
    }
  }
  batch.offsets = offsets_;
  if (absl::Status s = store_.Commit(batch); !s.ok()) {
    observer_.CommitFailed("store");
    return s;
  }
  Offsets committed = std::move(offsets_);
  offsets_.clear();
  outputs_.clear();
  observer_.Committed(stats_, absl::Now() - start);
  stats_ = CommitStats{};
  EvictClean();
  observer_.CachedAccounts(cache_.size());
  return committed;
}

void Processor::Rewind() {
  outputs_.clear();
  offsets_.clear();
  stats_ = CommitStats{};
  cache_.clear();
  observer_.CachedAccounts(0);
}

absl::StatusOr<std::optional<int64_t>> Processor::ResumeOffset(const TopicPartition& tp) {
  return store_.LoadOffset(tp);
}

void Processor::ForgetPartitions(const std::vector<TopicPartition>& partitions) {
  for (const TopicPartition& tp : partitions) {
    const std::string partition_prefix = AccountKey(tp.partition, "").substr(0, 4);
    absl::erase_if(cache_, [&](const auto& entry) {
      return !entry.second.dirty() &&
             absl::string_view(entry.first).substr(0, 4) == partition_prefix;
    });
  }
  observer_.CachedAccounts(cache_.size());
}

void Processor::EvictClean() {
  if (cache_.size() <= options_.max_cached_accounts) return;
  size_t excess = cache_.size() - options_.max_cached_accounts;
  for (auto it = cache_.begin(); it != cache_.end() && excess > 0;) {
    if (!it->second.dirty()) {
      cache_.erase(it++);
      --excess;
    } else {
      ++it;
    }
  }
}

}  // namespace baton::pipeline
