#include "demo.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "baton/codec/codec.h"
#include "baton/codec/describe.h"
#include "baton/core/event.h"
#include "baton/v1/outputs.pb.h"
#include "google/protobuf/util/json_util.h"
#include "librdkafka/rdkafkacpp.h"
#include "scenario_line.pb.h"
#include "spdlog/spdlog.h"

namespace baton::demo {
namespace {

struct Parsed {
  bool engagement;
  bool json;
  core::InputEvent event;
};

absl::StatusOr<Parsed> ParseLine(absl::string_view line) {
  ScenarioLine parsed_line;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &parsed_line);
  if (!status.ok()) return absl::InvalidArgumentError(status.message().as_string());
  std::string event_json;
  (void)google::protobuf::util::MessageToJsonString(parsed_line.event(), &event_json);
  Parsed parsed;
  if (parsed_line.topic() != "engagement" && parsed_line.topic() != "crm") {
    return absl::InvalidArgumentError("topic must be \"engagement\" or \"crm\"");
  }
  if (parsed_line.format() != "" && parsed_line.format() != "json" &&
      parsed_line.format() != "protobuf") {
    return absl::InvalidArgumentError("format must be \"json\" or \"protobuf\"");
  }
  parsed.engagement = parsed_line.topic() == "engagement";
  parsed.json = parsed_line.format() != "protobuf";
  auto decoded =
      codec::DecodeInput(parsed.engagement ? codec::InputKind::kEngagement : codec::InputKind::kCrm,
                         event_json, codec::PayloadFormat::kJson);
  if (!decoded.ok()) return decoded.status();
  parsed.event = std::move(*decoded);
  return parsed;
}

// ParseOutput decodes an output in whichever format Baton was told to write.
void ParseOutput(RdKafka::Message& message, google::protobuf::Message& out) {
  const absl::string_view payload(static_cast<const char*>(message.payload()), message.len());
  bool json = false;
  if (RdKafka::Headers* headers = message.headers()) {
    for (const auto& h : headers->get(std::string(codec::kContentTypeHeader))) {
      json = absl::string_view(static_cast<const char*>(h.value()), h.value_size()) ==
             codec::kJsonContentType;
    }
  }
  if (json) {
    (void)google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(payload.data(), payload.size()), &out);
  } else {
    out.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
  }
}

}  // namespace

absl::StatusOr<std::vector<ScenarioMessage>> ParseScenario(const std::string& text,
                                                           absl::Time latest) {
  std::vector<Parsed> events;
  int line_number = 0;
  absl::Time max_time = absl::InfinitePast();
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    absl::StatusOr<Parsed> parsed = ParseLine(line);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("scenario line ", line_number, ": ", parsed.status().message()));
    }
    max_time = std::max(max_time, core::EventTimeOf(parsed->event));
    events.push_back(std::move(*parsed));
  }
  const absl::Duration shift = latest - max_time;
  std::vector<ScenarioMessage> messages;
  for (Parsed& p : events) {
    std::visit(
        [&](auto& e) {
          *e.mutable_event_time() = core::ToTimestamp(core::ToTime(e.event_time()) + shift);
          ScenarioMessage m;
          m.engagement = p.engagement;
          m.key = std::string(core::AccountIdOf(p.event));
          const auto format =
              p.json ? codec::PayloadFormat::kJson : codec::PayloadFormat::kProtobuf;
          m.value = codec::Encode(e, format);
          m.content_type =
              std::string(p.json ? codec::kJsonContentType : codec::kProtobufContentType);
          messages.push_back(std::move(m));
        },
        p.event);
  }
  return messages;
}

Demo::Demo(DemoOptions options, std::atomic<bool>& stop)
    : options_(std::move(options)), stop_(stop) {}

Demo::~Demo() { Join(); }

void Demo::Start() {
  feeder_ = std::thread([this] { Feed(); });
  printer_ = std::thread([this] { Print(); });
}

void Demo::Join() {
  if (feeder_.joinable()) feeder_.join();
  if (printer_.joinable()) printer_.join();
}

void Demo::Feed() {
  auto conf = kafka::MakeConf(options_.kafka, {{"linger.ms", "1"}});
  std::string error;
  std::unique_ptr<RdKafka::Producer> producer(
      conf.ok() ? RdKafka::Producer::create(conf->get(), error) : nullptr);
  if (!producer) {
    spdlog::error("demo feeder: {}", conf.ok() ? error : std::string(conf.status().message()));
    return;
  }
  for (const ScenarioMessage& m : options_.scenario) {
    if (stop_) return;
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add(std::string(codec::kContentTypeHeader), m.content_type);
    const std::string& topic = m.engagement ? options_.engagement_topic : options_.crm_topic;
    RdKafka::ErrorCode err =
        producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                          const_cast<char*>(m.value.data()), m.value.size(), m.key.data(),
                          m.key.size(), 0, headers, nullptr);
    if (err != RdKafka::ERR_NO_ERROR) {
      delete headers;
      spdlog::error("demo feeder: producing to {}: {}", topic, RdKafka::err2str(err));
    }
    producer->poll(0);
    absl::SleepFor(options_.pace);
  }
  producer->flush(10'000);
  std::printf("-- scenario fed: %zu events --\n", options_.scenario.size());
  std::fflush(stdout);
  fed_ = true;
}

void Demo::Print() {
  auto conf = kafka::MakeConsumerConf(options_.kafka, {{"group.id", "baton-demo-printer"},
                                                       {"auto.offset.reset", "earliest"},
                                                       {"enable.auto.commit", "false"},
                                                       {"session.timeout.ms", "6000"},
                                                       {"fetch.wait.max.ms", "10"}});
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      conf.ok() ? RdKafka::KafkaConsumer::create(conf->get(), error) : nullptr);
  if (!consumer) {
    spdlog::error("demo printer: {}", conf.ok() ? error : std::string(conf.status().message()));
    return;
  }
  consumer->subscribe(
      {options_.outputs.routed_leads, options_.outputs.alerts, options_.outputs.dead_letter});
  absl::Time last_output = absl::Now();
  bool fed_seen = false;
  while (!stop_) {
    if (!fed_seen && fed_) {
      fed_seen = true;
      last_output = absl::Now();  // idle time counts from the end of the feed
    }
    std::unique_ptr<RdKafka::Message> message(consumer->consume(100));
    if (message->err() == RdKafka::ERR_NO_ERROR) {
      last_output = absl::Now();
      const std::string topic = message->topic_name();
      std::string line;
      if (topic == options_.outputs.routed_leads) {
        baton::v1::RoutedLead lead;
        ParseOutput(*message, lead);
        line = codec::OneLine(lead);
      } else if (topic == options_.outputs.alerts) {
        baton::v1::Alert alert;
        ParseOutput(*message, alert);
        line = codec::OneLine(alert);
      } else {
        std::string code = "?";
        if (RdKafka::Headers* headers = message->headers()) {
          for (const auto& h : headers->get("baton-error-code")) {
            code.assign(static_cast<const char*>(h.value()), h.value_size());
          }
        }
        line = absl::StrCat("DEAD  ", code, " account ",
                            message->key() != nullptr ? *message->key() : "(none)");
      }
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
    if (options_.exit_when_idle > absl::ZeroDuration() && fed_seen &&
        absl::Now() - last_output > options_.exit_when_idle) {
      stop_ = true;
    }
  }
  consumer->close();
}

}  // namespace baton::demo
