#include "baton/core/matching.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace baton::core {
namespace {

using ::testing::ElementsAre;

TEST(MatchingTest, EmailDomainIsLowercasedAndNormalized) {
  EXPECT_EQ(EmailDomain("Jane.Doe@EU.Acme.Example"), "eu.acme.example");
  EXPECT_EQ(EmailDomain("jane@www.acme.example."), "acme.example");
  EXPECT_EQ(EmailDomain("no-domain"), "");
  EXPECT_EQ(EmailDomain("jane@"), "");
}

TEST(MatchingTest, CandidatesRunFromTheDomainToItsRegistrableParent) {
  EXPECT_THAT(DomainCandidates("a.eu.acme.example"),
              ElementsAre("a.eu.acme.example", "eu.acme.example", "acme.example"));
  EXPECT_THAT(DomainCandidates("acme.example"), ElementsAre("acme.example"));
  EXPECT_THAT(DomainCandidates("localhost"), ElementsAre());
}

TEST(MatchingTest, ReversedDomainsShareAPrefixWithSubdomainsOnly) {
  EXPECT_EQ(ReversedDomain("eu.acme.example"), "example.acme.eu.");
  const std::string parent = ReversedDomain("acme.example");
  EXPECT_EQ(ReversedDomain("eu.acme.example").rfind(parent, 0), 0u);
  EXPECT_NE(ReversedDomain("acmeco.example").rfind(parent, 0), 0u);
}

TEST(MatchingTest, FreeMailIsBuiltInOrConfigured) {
  FreeMailDomains built_in;
  EXPECT_TRUE(built_in.Contains("gmail.com"));
  EXPECT_TRUE(built_in.Contains("mail.yahoo.com"));
  EXPECT_FALSE(built_in.Contains("acme.example"));
  FreeMailDomains configured({"Freemail.Example"});
  EXPECT_TRUE(configured.Contains("freemail.example"));
  EXPECT_FALSE(configured.Contains("gmail.com"));
}

}  // namespace
}  // namespace baton::core
