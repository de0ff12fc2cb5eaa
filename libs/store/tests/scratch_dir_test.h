// ScratchDirTest: a fixture whose dir_ is a path of the test's own under the test temporary
// directory, absent when each test starts and removed after it.
#pragma once

#include <filesystem>

#include "gtest/gtest.h"

namespace baton::store {

class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

}  // namespace baton::store
