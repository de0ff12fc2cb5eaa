#include "baton/core/url.h"

#include "gtest/gtest.h"

namespace baton::core {
namespace {

TEST(UrlTest, PricingSegmentAnywhereInThePath) {
  EXPECT_TRUE(IsPricingPage("https://vendor.example/pricing"));
  EXPECT_TRUE(IsPricingPage("https://vendor.example/en/Pricing/?plan=team"));
  EXPECT_TRUE(IsPricingPage("/pricing#enterprise"));
}

TEST(UrlTest, NotPricing) {
  EXPECT_FALSE(IsPricingPage("https://vendor.example/blog/pricing-tips"));
  EXPECT_FALSE(IsPricingPage("https://pricing.vendor.example/"));
  EXPECT_FALSE(IsPricingPage("https://vendor.example/docs?q=pricing"));
  EXPECT_FALSE(IsPricingPage(""));
}

}  // namespace
}  // namespace baton::core
