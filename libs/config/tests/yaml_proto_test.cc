#include "baton/config/yaml_proto.h"

#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_config.pb.h"

namespace baton::config {
namespace {

using ::baton::config::test::Severity;
using ::baton::config::test::TestConfig;

// ErrorOf parses `yaml` as "rules.yaml" and returns the error message (failing if it parsed).
std::string ErrorOf(absl::string_view yaml) {
  TestConfig config;
  absl::StatusOr<SourceMap> result = ParseYamlToProto(yaml, "rules.yaml", &config);
  EXPECT_FALSE(result.ok()) << "parsed: " << config.ShortDebugString();
  if (result.ok()) return "";
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.ByteSizeLong(), 0u) << "a failed load leaves the message cleared";
  return std::string(result.status().message());
}

TestConfig Parse(absl::string_view yaml) {
  TestConfig config;
  absl::StatusOr<SourceMap> result = ParseYamlToProto(yaml, "rules.yaml", &config);
  EXPECT_TRUE(result.ok()) << result.status();
  return config;
}

constexpr absl::string_view kRuleFile = R"(schema_version: 1
rules:
  - name: demo-request
    enabled: true
    severity: SEVERITY_HIGH
    window: 14d
    cooldown: 1h30m
    active_from: 2026-11-20
    tags: [inbound, "high intent"]
    labels:
      team: emea
      "owner": jane
    min_score: 0.75
    when:
      all:
        - count: {event_type: DEMO_REQUEST, at_least: 1, within: 36h}
        - any:
            - tier_is: TIER_1
            - count:
                event_type: PAGE_VISIT
                at_least: 3
  - name: quiet
    enabled: false
big: -9223372036854775808
small_unsigned: 4294967295
big_unsigned: 18446744073709551615
ratio: 0.5
weight: -1e3
ids: [1, -2, 3]
levels: [SEVERITY_LOW, SEVERITY_UNSPECIFIED]
by_id:
  7: seven
  -1: minus one
named_rules:
  fallback: {name: fallback, window: 90m}
effective_from: "2026-11-20T10:00:00.25+02:00"
steps: [30s, 1d, 0s]
owner: ""
)";

TEST(ParseYamlToProtoTest, LoadsEveryKindOfField) {
  const TestConfig config = Parse(kRuleFile);
  EXPECT_EQ(config.schema_version(), 1);
  ASSERT_EQ(config.rules_size(), 2);

  const test::Rule& rule = config.rules(0);
  EXPECT_EQ(rule.name(), "demo-request");
  EXPECT_TRUE(rule.enabled());
  EXPECT_EQ(rule.severity(), test::SEVERITY_HIGH);
  EXPECT_EQ(rule.window().seconds(), 14 * 86400);
  EXPECT_EQ(rule.cooldown().seconds(), 90 * 60);
  EXPECT_EQ(rule.active_from().seconds(), 1795132800);  // 2026-11-20T00:00:00Z
  EXPECT_THAT(rule.tags(), ::testing::ElementsAre("inbound", "high intent"));
  EXPECT_EQ(rule.labels().size(), 2u);
  EXPECT_EQ(rule.labels().at("team"), "emea");
  EXPECT_EQ(rule.labels().at("owner"), "jane");
  EXPECT_DOUBLE_EQ(rule.min_score(), 0.75);

  ASSERT_EQ(rule.when().all_size(), 2);
  const test::Count& count = rule.when().all(0).count();
  EXPECT_EQ(count.event_type(), "DEMO_REQUEST");
  EXPECT_EQ(count.at_least(), 1);
  EXPECT_EQ(count.within().seconds(), 36 * 3600);
  const test::Condition& any = rule.when().all(1);
  ASSERT_EQ(any.any_size(), 2);
  EXPECT_EQ(any.any(0).tier_is(), "TIER_1");
  EXPECT_EQ(any.any(1).count().event_type(), "PAGE_VISIT");
  EXPECT_EQ(any.any(1).count().at_least(), 3);
  EXPECT_FALSE(any.any(1).count().has_within());

  EXPECT_EQ(config.rules(1).name(), "quiet");
  EXPECT_FALSE(config.rules(1).enabled());

  EXPECT_EQ(config.big(), INT64_MIN);
  EXPECT_EQ(config.small_unsigned(), UINT32_MAX);
  EXPECT_EQ(config.big_unsigned(), UINT64_MAX);
  EXPECT_FLOAT_EQ(config.ratio(), 0.5f);
  EXPECT_DOUBLE_EQ(config.weight(), -1000.0);
  EXPECT_THAT(config.ids(), ::testing::ElementsAre(1, -2, 3));
  EXPECT_THAT(config.levels(),
              ::testing::ElementsAre(test::SEVERITY_LOW, test::SEVERITY_UNSPECIFIED));
  EXPECT_EQ(config.by_id().at(7), "seven");
  EXPECT_EQ(config.by_id().at(-1), "minus one");
  EXPECT_EQ(config.named_rules().at("fallback").window().seconds(), 5400);
  EXPECT_EQ(config.effective_from().seconds(), 1795168800 - 2 * 3600);  // 08:00Z
  EXPECT_EQ(config.effective_from().nanos(), 250'000'000);
  ASSERT_EQ(config.steps_size(), 3);
  EXPECT_EQ(config.steps(0).seconds(), 30);
  EXPECT_EQ(config.steps(1).seconds(), 86400);
  EXPECT_EQ(config.steps(2).seconds(), 0);
  EXPECT_TRUE(config.has_owner());  // written, so present even though empty
  EXPECT_EQ(config.owner(), "");
}

TEST(ParseYamlToProtoTest, EmptyDocumentsGiveAnEmptyMessage) {
  for (absl::string_view yaml : {"", "\n\n", "# only a comment\n", "---\n", "--- ~\n", "null"}) {
    TestConfig config;
    config.set_schema_version(9);  // replaced, not merged into
    absl::StatusOr<SourceMap> sources = ParseYamlToProto(yaml, "rules.yaml", &config);
    ASSERT_TRUE(sources.ok()) << sources.status() << " for " << yaml;
    EXPECT_EQ(config.ByteSizeLong(), 0u) << yaml;
    EXPECT_EQ(sources->size(), 0u);
  }
}

TEST(ParseYamlToProtoTest, StringFieldsTakeAnyScalarAsWritten) {
  const TestConfig config = Parse(R"(rules:
  - name: 0123
    tags: [true, 1.50, null-ish, "null", '~', 2026-11-20, "tab\there"]
    labels: {yes: no}
  - name: |
      two
      lines
)");
  EXPECT_EQ(config.rules(0).name(), "0123");
  EXPECT_THAT(config.rules(0).tags(), ::testing::ElementsAre("true", "1.50", "null-ish", "null",
                                                             "~", "2026-11-20", "tab\there"));
  EXPECT_EQ(config.rules(0).labels().at("yes"), "no");
  EXPECT_EQ(config.rules(1).name(), "two\nlines\n");
}

TEST(ParseYamlToProtoTest, DurationForms) {
  const TestConfig config = Parse("steps: [14d, 36h, 90m, 30s, 1h30m, 1d12h, 2d3h4m5s, 0s, 007m]");
  std::vector<int64_t> seconds;
  for (const auto& step : config.steps()) seconds.push_back(step.seconds());
  EXPECT_THAT(seconds,
              ::testing::ElementsAre(14 * 86400, 36 * 3600, 90 * 60, 30, 5400, 86400 + 12 * 3600,
                                     2 * 86400 + 3 * 3600 + 245, 0, 420));
}

TEST(ParseYamlToProtoTest, TimestampForms) {
  EXPECT_EQ(Parse("effective_from: 2026-11-20T10:00:00Z").effective_from().seconds(), 1795168800);
  EXPECT_EQ(Parse("effective_from: 2026-11-20T11:30:00+01:30").effective_from().seconds(),
            1795168800);
  EXPECT_EQ(Parse("effective_from: 1969-12-31").effective_from().seconds(), -86400);
  const TestConfig fraction = Parse("effective_from: 1969-12-31T23:59:59.5Z");
  EXPECT_EQ(fraction.effective_from().seconds(), -1);  // nanos stay positive
  EXPECT_EQ(fraction.effective_from().nanos(), 500'000'000);
  EXPECT_EQ(Parse("effective_from: 9999-12-31T23:59:59Z").effective_from().seconds(), 253402300799);
  EXPECT_EQ(Parse("effective_from: 0001-01-01").effective_from().seconds(), -62135596800);
}

// ---- Errors: every one is "<file>:<line>: <path>: <problem>" -------------------------------

TEST(ParseYamlToProtoErrorTest, SyntaxErrorHasLineAndColumn) {
  EXPECT_EQ(ErrorOf("rules:\n  - name: [a,\n"),
            "rules.yaml:3:1: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(ErrorOf("a: b: c\n"), "rules.yaml:1:5: invalid YAML: illegal map value");
}

TEST(ParseYamlToProtoErrorTest, TopLevelMustBeAMap) {
  EXPECT_EQ(ErrorOf("- a\n- b\n"),
            "rules.yaml:1: (top level): expects a map of baton.config.test.TestConfig fields, "
            "got a list");
  EXPECT_EQ(ErrorOf("\n\njust text\n"),
            "rules.yaml:3: (top level): expects a map of baton.config.test.TestConfig fields, "
            "got \"just text\"");
}

TEST(ParseYamlToProtoErrorTest, UnknownFieldListsTheKnownOnes) {
  EXPECT_EQ(ErrorOf("rules:\n  - name: a\n    when:\n      count: {atleast: 3}\n"),
            "rules.yaml:4: rules[0].when.count.atleast: unknown field 'atleast' in "
            "baton.config.test.Count (known: event_type, at_least, within); did you mean "
            "'at_least'?");
  EXPECT_EQ(ErrorOf("rules:\n  - foo: 1\n"),
            "rules.yaml:2: rules[0].foo: unknown field 'foo' in baton.config.test.Rule (known: "
            "name, enabled, severity, window, cooldown, active_from, when, tags, labels, "
            "min_score)");
}

TEST(ParseYamlToProtoErrorTest, JsonNamesAreRefusedWithAHint) {
  EXPECT_EQ(ErrorOf("schemaVersion: 1\n"),
            "rules.yaml:1: schemaVersion: unknown field 'schemaVersion' in "
            "baton.config.test.TestConfig (known: schema_version, rules, big, small_unsigned, "
            "big_unsigned, ratio, weight, ids, levels, by_id, named_rules, blob, effective_from, "
            "steps, owner); did you mean 'schema_version'?");
}

TEST(ParseYamlToProtoErrorTest, DuplicateKeys) {
  EXPECT_EQ(ErrorOf("rules:\n  - name: a\n    window: 1d\n    name: b\n"),
            "rules.yaml:4: rules[0].name: duplicate key (first written at line 2)");
  EXPECT_EQ(ErrorOf("by_id:\n  7: a\n  007: b\n"),
            "rules.yaml:3: by_id[7]: duplicate key (first written at line 2)");
  EXPECT_EQ(ErrorOf("rules: [{labels: {a: 1, \"a\": 2}}]\n"),
            "rules.yaml:1: rules[0].labels[a]: duplicate key (first written at line 1)");
}

TEST(ParseYamlToProtoErrorTest, WrongTypesNameTheFieldPath) {
  EXPECT_EQ(ErrorOf("rules:\n  - name: a\n  - name: b\n  - name: c\n    window:\n      - 14d\n"),
            "rules.yaml:5: rules[2].window: expects a duration like \"14d\", \"36h\", \"90m\", "
            "got a list");
  EXPECT_EQ(ErrorOf("rules:\n  - {}\n  - when:\n      all:\n        - count:\n"
                    "            at_least: 1.5\n"),
            "rules.yaml:6: rules[1].when.all[0].count.at_least: expects an integer, got \"1.5\"");
  EXPECT_EQ(ErrorOf("rules: {name: a}\n"), "rules.yaml:1: rules: expects a list, got a map");
  EXPECT_EQ(ErrorOf("rules: [name]\n"),
            "rules.yaml:1: rules[0]: expects a map of baton.config.test.Rule fields, got \"name\"");
  EXPECT_EQ(ErrorOf("rules:\n  - when: all\n"),
            "rules.yaml:2: rules[0].when: expects a map of baton.config.test.Condition fields, "
            "got \"all\"");
  EXPECT_EQ(ErrorOf("rules:\n  - labels: [a, b]\n"),
            "rules.yaml:2: rules[0].labels: expects a map, got a list");
  EXPECT_EQ(ErrorOf("rules:\n  - name: {first: a}\n"),
            "rules.yaml:2: rules[0].name: expects a string, got a map");
  EXPECT_EQ(ErrorOf("effective_from: [2026]\n"),
            "rules.yaml:1: effective_from: expects a timestamp like \"2026-11-20T10:00:00Z\" or a "
            "date like \"2026-11-20\", got a list");
}

TEST(ParseYamlToProtoErrorTest, AScalarIsNotAList) {
  EXPECT_EQ(ErrorOf("rules:\n  - tags: inbound\n"),
            "rules.yaml:2: rules[0].tags: expects a list, got \"inbound\"");
  EXPECT_EQ(ErrorOf("ids: 3\n"), "rules.yaml:1: ids: expects a list, got \"3\"");
}

TEST(ParseYamlToProtoErrorTest, EmptyValuesAreRefused) {
  // The empty value's own mark is on the next line; the error points at the key.
  EXPECT_EQ(ErrorOf("rules:\n  - name:\n    window: 1d\n"),
            "rules.yaml:2: rules[0].name: expects a string, got an empty value");
  EXPECT_EQ(ErrorOf("rules:\n"), "rules.yaml:1: rules: expects a list, got an empty value");
  EXPECT_EQ(ErrorOf("rules: [{when: ~}]\n"),
            "rules.yaml:1: rules[0].when: expects a map of baton.config.test.Condition fields, "
            "got an empty value");
  EXPECT_EQ(ErrorOf("ids: [1, null]\n"),
            "rules.yaml:1: ids[1]: expects an integer, got an empty value");
}

TEST(ParseYamlToProtoErrorTest, Booleans) {
  EXPECT_EQ(ErrorOf("rules: [{enabled: yes}]\n"),
            "rules.yaml:1: rules[0].enabled: expects true or false, got \"yes\"");
  EXPECT_EQ(ErrorOf("rules: [{enabled: True}]\n"),
            "rules.yaml:1: rules[0].enabled: expects true or false, got \"True\"");
  EXPECT_EQ(ErrorOf("rules: [{enabled: \"true\"}]\n"),
            "rules.yaml:1: rules[0].enabled: expects true or false, got the quoted string "
            "\"true\"; write it without quotes");
}

TEST(ParseYamlToProtoErrorTest, Integers) {
  EXPECT_EQ(ErrorOf("schema_version: 3000000000\n"),
            "rules.yaml:1: schema_version: expects an integer from -2147483648 to 2147483647, "
            "got \"3000000000\"");
  EXPECT_EQ(ErrorOf("big: 9223372036854775808\n"),
            "rules.yaml:1: big: expects an integer from -9223372036854775808 to "
            "9223372036854775807, got \"9223372036854775808\"");
  EXPECT_EQ(ErrorOf("small_unsigned: -1\n"),
            "rules.yaml:1: small_unsigned: expects a non-negative integer, got \"-1\"");
  EXPECT_EQ(ErrorOf("small_unsigned: 4294967296\n"),
            "rules.yaml:1: small_unsigned: expects an integer from 0 to 4294967295, got "
            "\"4294967296\"");
  EXPECT_EQ(ErrorOf("schema_version: \"2\"\n"),
            "rules.yaml:1: schema_version: expects an integer, got the quoted string \"2\"; "
            "write it without quotes");
  for (absl::string_view bad : {"0x10", "1e3", "+5", "1_000", "2.0", "-", "''"}) {
    const std::string yaml = absl::StrCat("ids: [", bad, "]\n");
    EXPECT_THAT(ErrorOf(yaml), ::testing::StartsWith("rules.yaml:1: ids[0]: expects an integer"))
        << bad;
  }
}

TEST(ParseYamlToProtoErrorTest, Numbers) {
  EXPECT_EQ(ErrorOf("weight: .inf\n"), "rules.yaml:1: weight: expects a number, got \".inf\"");
  EXPECT_EQ(ErrorOf("weight: nan\n"), "rules.yaml:1: weight: expects a number, got \"nan\"");
  EXPECT_EQ(ErrorOf("weight: 1.2.3\n"), "rules.yaml:1: weight: expects a number, got \"1.2.3\"");
  EXPECT_EQ(ErrorOf("weight: 1e999\n"),
            "rules.yaml:1: weight: expects a number, got \"1e999\" (out of range)");
  EXPECT_EQ(ErrorOf("ratio: 1e39\n"),
            "rules.yaml:1: ratio: expects a number, got \"1e39\" (out of range)");
  EXPECT_EQ(ErrorOf("ratio: '0.5'\n"),
            "rules.yaml:1: ratio: expects a number, got the quoted string \"0.5\"; write it "
            "without quotes");
}

TEST(ParseYamlToProtoErrorTest, EnumsListTheirNames) {
  EXPECT_EQ(ErrorOf("rules:\n  - severity: HIGH\n"),
            "rules.yaml:2: rules[0].severity: expects one of SEVERITY_LOW, SEVERITY_HIGH, "
            "got \"HIGH\"");
  EXPECT_EQ(ErrorOf("levels: [SEVERITY_LOW, 2]\n"),
            "rules.yaml:1: levels[1]: expects one of SEVERITY_LOW, SEVERITY_HIGH, "
            "got \"2\"");
  EXPECT_EQ(ErrorOf("levels: [[SEVERITY_LOW]]\n"),
            "rules.yaml:1: levels[0]: expects one of SEVERITY_LOW, SEVERITY_HIGH, "
            "got a list");
}

TEST(ParseYamlToProtoErrorTest, BadDurations) {
  const std::string expects = R"(expects a duration like "14d", "36h", "90m", got )";
  struct Case {
    absl::string_view text;
    std::string got;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"14", "\"14\""},
           {"1.5h", "\"1.5h\""},
           {"14D", "\"14D\""},
           {"1 h", "\"1 h\""},
           {"h", "\"h\""},
           {"1w", "\"1w\""},
           {"10ms", "\"10ms\""},
           {"''", "\"\""},
           {"-3d", "\"-3d\" (durations cannot be negative)"},
           {"1m1h", "\"1m1h\" (units go d, h, m, s, largest first, each once)"},
           {"1h1h", "\"1h1h\" (units go d, h, m, s, largest first, each once)"},
           {"3652501d", "\"3652501d\" (over 10000 years)"},
           {"99999999999999999999999s", "\"99999999999999999999999s\" (over 10000 years)"},
       }) {
    EXPECT_EQ(ErrorOf(absl::StrCat("rules: [{cooldown: ", c.text, "}]\n")),
              absl::StrCat("rules.yaml:1: rules[0].cooldown: ", expects, c.got))
        << c.text;
  }
  EXPECT_EQ(Parse("rules: [{cooldown: 3652500d}]").rules(0).cooldown().seconds(),
            315'576'000'000);  // exactly the limit
}

TEST(ParseYamlToProtoErrorTest, BadTimestamps) {
  const std::string expects =
      R"(expects a timestamp like "2026-11-20T10:00:00Z" or a date like "2026-11-20", got )";
  for (absl::string_view text :
       {"2026-13-01", "2026-02-30", "2026-2-05", "yesterday", "2026-11-20T10:00:00",
        "2026-11-20 10:00:00Z", "2026-11-20T10:00Z", "20261120", "1795168800"}) {
    EXPECT_EQ(ErrorOf(absl::StrCat("effective_from: \"", text, "\"\n")),
              absl::StrCat("rules.yaml:1: effective_from: ", expects, "\"", text, "\""));
  }
  EXPECT_EQ(ErrorOf("effective_from: 0001-01-01T00:00:00+01:00\n"),
            absl::StrCat("rules.yaml:1: effective_from: ", expects,
                         "\"0001-01-01T00:00:00+01:00\" (outside years 0001 to 9999)"));
}

TEST(ParseYamlToProtoErrorTest, TwoMembersOfAOneof) {
  EXPECT_EQ(ErrorOf("rules:\n  - when:\n      count: {at_least: 1}\n      tier_is: TIER_1\n"),
            "rules.yaml:4: rules[0].when.tier_is: 'count' (line 3) and 'tier_is' are both set, "
            "but they belong to oneof 'leaf'; set only one");
}

TEST(ParseYamlToProtoErrorTest, MapKeysAreParsedAsTheKeyType) {
  EXPECT_EQ(ErrorOf("by_id:\n  seven: x\n"),
            "rules.yaml:2: by_id[seven]: expects an integer, got \"seven\"");
  EXPECT_EQ(ErrorOf("by_id:\n  [1]: x\n"),
            "rules.yaml:2: by_id: expects an integer as keys, got a list");
  EXPECT_EQ(ErrorOf("named_rules:\n  x:\n    window: soon\n"),
            "rules.yaml:3: named_rules[x].window: expects a duration like \"14d\", \"36h\", "
            "\"90m\", got \"soon\"");
}

TEST(ParseYamlToProtoErrorTest, FieldNamesMustBeScalars) {
  EXPECT_EQ(ErrorOf("rules:\n  - ? [a]\n    : 1\n"),
            "rules.yaml:2: rules[0]: expects field names as keys, got a list");
  EXPECT_EQ(ErrorOf("~: 1\n"),
            "rules.yaml:1: (top level): expects field names as keys, got an empty value");
}

TEST(ParseYamlToProtoErrorTest, BytesAreNotSupported) {
  EXPECT_EQ(ErrorOf("blob: aGVsbG8=\n"),
            "rules.yaml:1: blob: bytes fields cannot be written in YAML config");
}

TEST(ParseYamlToProtoErrorTest, StringsMustBeUtf8) {
  EXPECT_EQ(ErrorOf("rules: [{name: \"caf\xc3\xa9\"}, {name: \"bad\xff\"}]\n"),
            "rules.yaml:1: rules[1].name: is not valid UTF-8: \"bad\\xff\"");
}

TEST(ParseYamlToProtoErrorTest, LongValuesAreCutInMessages) {
  EXPECT_EQ(ErrorOf(absl::StrCat("weight: ", std::string(50, 'x'), "\n")),
            absl::StrCat("rules.yaml:1: weight: expects a number, got \"", std::string(40, 'x'),
                         "...\""));
}

TEST(ParseYamlToProtoErrorTest, DocumentLevelRefusals) {
  EXPECT_EQ(ErrorOf("schema_version: 1\n---\nschema_version: 2\n"),
            "rules.yaml:2:1: a second YAML document; a file holds exactly one");
  EXPECT_EQ(ErrorOf("rules:\n  - &base {name: a}\n  - *base\n"),
            "rules.yaml:3:5: YAML aliases (*name) are not supported; write the value out in full");
  EXPECT_EQ(ErrorOf("schema_version: !!int 1\n"),
            "rules.yaml:1:17: YAML tags (tag:yaml.org,2002:int) are not supported; remove it");
  std::string deep = "rules: [{when: ";
  for (int i = 0; i < 40; ++i) absl::StrAppend(&deep, "{all: [");
  std::string closed = deep;
  for (int i = 0; i < 40; ++i) absl::StrAppend(&closed, "]}");
  absl::StrAppend(&closed, "}]\n");
  // Level 65 is the list of the 31st "{all: [", at column 15 + 30 * 7 + 6 (0-based).
  EXPECT_EQ(ErrorOf(closed), "rules.yaml:1:232: nested deeper than 64 levels");
  // Unclosed, it is also a syntax error further on; the first problem in the text is reported.
  EXPECT_THAT(ErrorOf(deep), ::testing::EndsWith(": nested deeper than 64 levels"));
}

TEST(ParseYamlToProtoErrorTest, AliasCycleIsRefusedNotWalked) {
  // yaml-cpp registers an anchor before its contents, so this is a node that contains itself.
  EXPECT_EQ(ErrorOf("rules: [{when: &loop {all: [*loop]}}]\n"),
            "rules.yaml:1:29: YAML aliases (*name) are not supported; write the value out in full");
}

// ---- SourceMap ------------------------------------------------------------------------------

TEST(SourceMapTest, RecordsTheLineOfEveryWrittenPath) {
  TestConfig config;
  absl::StatusOr<SourceMap> sources = ParseYamlToProto(kRuleFile, "rules.yaml", &config);
  ASSERT_TRUE(sources.ok()) << sources.status();
  EXPECT_EQ(sources->file_name(), "rules.yaml");
  EXPECT_EQ(sources->Line(""), 1);
  EXPECT_EQ(sources->Line("schema_version"), 1);
  EXPECT_EQ(sources->Line("rules"), 2);
  EXPECT_EQ(sources->Line("rules[0]"), 3);
  EXPECT_EQ(sources->Line("rules[0].name"), 3);
  EXPECT_EQ(sources->Line("rules[0].window"), 6);
  EXPECT_EQ(sources->Line("rules[0].tags[1]"), 9);
  EXPECT_EQ(sources->Line("rules[0].labels[owner]"), 12);
  EXPECT_EQ(sources->Line("rules[0].when"), 14);
  EXPECT_EQ(sources->Line("rules[0].when.all[0].count.at_least"), 16);
  EXPECT_EQ(sources->Line("rules[0].when.all[1].any[1].count.at_least"), 21);
  EXPECT_EQ(sources->Line("rules[1]"), 22);
  EXPECT_EQ(sources->Line("by_id[-1]"), 33);
  EXPECT_EQ(sources->Line("named_rules[fallback].window"), 35);
  EXPECT_EQ(sources->Line("steps[2]"), 37);
  EXPECT_EQ(sources->Line("rules[1].cooldown"), 0);  // not written
  EXPECT_EQ(sources->Line("nonsense"), 0);
}

TEST(SourceMapTest, WhereAndErrorFallBackToTheNearestWrittenAncestor) {
  TestConfig config;
  absl::StatusOr<SourceMap> sources = ParseYamlToProto(kRuleFile, "rules.yaml", &config);
  ASSERT_TRUE(sources.ok()) << sources.status();
  EXPECT_EQ(sources->Where("rules[0].window"), "rules.yaml:6");
  EXPECT_EQ(sources->Where("rules[1].cooldown"), "rules.yaml:22");  // rule 1 has no cooldown
  EXPECT_EQ(sources->Where("rules[0].when.all[1].any[0].count.within"), "rules.yaml:18");
  EXPECT_EQ(sources->Where("rules[0].labels[missing]"), "rules.yaml:10");
  EXPECT_EQ(sources->Where("owner.x"), "rules.yaml:38");
  EXPECT_EQ(sources->Where("nonsense"), "rules.yaml:1");  // the document itself

  const absl::Status error = sources->Error("rules[0].cooldown", "must be at least 1d");
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(error.message(), "rules.yaml:7: rules[0].cooldown: must be at least 1d");
  EXPECT_EQ(sources->Error("", "needs at least one rule").message(),
            "rules.yaml:1: (top level): needs at least one rule");
}

TEST(SourceMapTest, UnknownEverywhereGivesJustTheFile) {
  const SourceMap empty("rules.yaml");
  EXPECT_EQ(empty.Where("rules[0].name"), "rules.yaml");
  EXPECT_EQ(empty.Error("rules", "needs at least one rule").message(),
            "rules.yaml: rules: needs at least one rule");

  SourceMap by_hand("x.yaml");
  by_hand.Record("labels[a.b]", 4);
  EXPECT_EQ(by_hand.Where("labels[a.b].c"), "x.yaml:4");
  EXPECT_EQ(by_hand.Where("labels[a.c]"), "x.yaml");
}

// ---- LoadYamlFile ---------------------------------------------------------------------------

TEST(LoadYamlFileTest, ReadsAndNamesTheFile) {
  const std::string path = ::testing::TempDir() + "/yaml_proto_test_rules.yaml";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  const std::string text = "schema_version: 2\nrules:\n  - name: a\n    window: 1x\n";
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);

  TestConfig config;
  absl::StatusOr<SourceMap> result = LoadYamlFile(path, &config);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            absl::StrCat(path,
                         ":4: rules[0].window: expects a duration like \"14d\", \"36h\", "
                         "\"90m\", got \"1x\""));
  std::remove(path.c_str());
}

TEST(LoadYamlFileTest, LoadsAFile) {
  const std::string path = ::testing::TempDir() + "/yaml_proto_test_ok.yaml";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  std::fputs("schema_version: 2\n", file);
  std::fclose(file);
  TestConfig config;
  absl::StatusOr<SourceMap> result = LoadYamlFile(path, &config);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(config.schema_version(), 2);
  EXPECT_EQ(result->Where("schema_version"), path + ":1");
  std::remove(path.c_str());
}

TEST(LoadYamlFileTest, MissingFileIsNotFoundAndNamed) {
  TestConfig config;
  absl::StatusOr<SourceMap> result = LoadYamlFile("/nonexistent/rules.yaml", &config);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(result.status().message(),
            "cannot read /nonexistent/rules.yaml: No such file or directory");
}

TEST(LoadYamlFileTest, DirectoryIsAnError) {
  TestConfig config;
  absl::StatusOr<SourceMap> result = LoadYamlFile(::testing::TempDir(), &config);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()),
              ::testing::StartsWith(absl::StrCat("cannot read ", ::testing::TempDir())));
}

}  // namespace
}  // namespace baton::config
