#include "baton/rules/rule_file_watcher.h"

#include <chrono>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace baton::rules {
namespace {

using ::testing::HasSubstr;

std::string RuleFileText(int version, int opens) {
  return "version: " + std::to_string(version) +
         "\nrules:\n"
         "  - name: r\n"
         "    level: SALES_READY\n"
         "    when:\n"
         "      count: {type: EMAIL_OPEN, at_least: " +
         std::to_string(opens) + ", within: 14d}\n";
}

class RuleFileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One file per test: ctest runs the tests of this suite in parallel processes.
    path_ = std::filesystem::path(::testing::TempDir()) /
            (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
             ".rules.yaml");
    Write(RuleFileText(1, 3));
  }
  void TearDown() override { std::filesystem::remove(path_); }

  // Write replaces the file and moves its modification time forward by a second, so the change
  // is visible whatever the file system's time resolution.
  void Write(const std::string& text) {
    const auto before = std::filesystem::exists(path_) ? std::filesystem::last_write_time(path_)
                                                       : std::filesystem::file_time_type::min();
    std::ofstream(path_) << text;
    std::filesystem::last_write_time(
        path_, std::max(before + std::chrono::seconds(1), std::filesystem::last_write_time(path_)));
  }

  std::filesystem::path path_;
};

TEST_F(RuleFileWatcherTest, AnUnchangedFileIsNotReloadedUnlessForced) {
  RuleFileWatcher watcher(path_.string());
  EXPECT_FALSE(watcher.Check(false).has_value());
  auto forced = watcher.Check(true);
  ASSERT_TRUE(forced.has_value());
  ASSERT_TRUE(forced->ok()) << forced->status();
  EXPECT_EQ((**forced)->version(), 1);
}

TEST_F(RuleFileWatcherTest, AChangedFileIsLoadedOnce) {
  RuleFileWatcher watcher(path_.string());
  Write(RuleFileText(2, 4));
  auto loaded = watcher.Check(false);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_TRUE(loaded->ok()) << loaded->status();
  EXPECT_EQ((**loaded)->version(), 2);
  EXPECT_FALSE(watcher.Check(false).has_value());
}

TEST_F(RuleFileWatcherTest, ABadNewFileIsReportedWithItsLineAndTheNextGoodOneLoads) {
  RuleFileWatcher watcher(path_.string());
  Write("version: 3\nrules:\n  - name: r\n    levl: SALES_READY\n");
  auto rejected = watcher.Check(false);
  ASSERT_TRUE(rejected.has_value());
  ASSERT_FALSE(rejected->ok());
  EXPECT_THAT(rejected->status().message(), HasSubstr("rules.yaml:4: rules[0]"));
  Write(RuleFileText(4, 2));
  auto loaded = watcher.Check(false);
  ASSERT_TRUE(loaded.has_value() && loaded->ok());
  EXPECT_EQ((**loaded)->version(), 4);
}

}  // namespace
}  // namespace baton::rules
