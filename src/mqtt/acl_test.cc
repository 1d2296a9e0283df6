#include "mqtt/acl.h"

#include <gtest/gtest.h>

namespace shoal::mqtt {
namespace {

const std::optional<std::string> kAnonymous;

std::optional<std::string> User(const char* name) { return std::string(name); }

using Filters = std::vector<std::string>;

AclRule Rule(std::string user, Filters publish, Filters subscribe, Filters deny_publish = {},
             Filters deny_subscribe = {}) {
  return AclRule{std::move(user), std::move(publish), std::move(subscribe),
                 std::move(deny_publish), std::move(deny_subscribe)};
}

TEST(Acl, RulesApplyToTheirUserAnonymousOrEveryone) {
  Acl acl({
      Rule("alice", {"alice/#"}, {"news/#"}),
      Rule("anonymous", {}, {"public/+"}),
      Rule("*", {"all"}, {}),
  });
  EXPECT_TRUE(acl.Allows(User("alice"), "c1", Access::kPublish, "alice/x"));
  EXPECT_TRUE(acl.Allows(User("alice"), "c1", Access::kPublish, "all"));
  EXPECT_FALSE(acl.Allows(User("bob"), "c2", Access::kPublish, "alice/x"));
  EXPECT_TRUE(acl.Allows(User("bob"), "c2", Access::kPublish, "all"));
  EXPECT_TRUE(acl.Allows(kAnonymous, "c3", Access::kPublish, "all"));
  // "anonymous" rules are for clients that gave no user name.
  EXPECT_TRUE(acl.Allows(kAnonymous, "c3", Access::kSubscribe, "public/a"));
  EXPECT_FALSE(acl.Allows(User("bob"), "c2", Access::kSubscribe, "public/a"));
  // Subscribing needs a filter that covers the requested one.
  EXPECT_TRUE(acl.Allows(User("alice"), "c1", Access::kSubscribe, "news/+/today"));
  EXPECT_FALSE(acl.Allows(User("alice"), "c1", Access::kSubscribe, "#"));
  EXPECT_FALSE(acl.Allows(kAnonymous, "c3", Access::kSubscribe, "public/#"));
  // Receiving takes a subscribe filter that matches the topic: rules
  // changed since a subscription was granted hold for it too.
  EXPECT_TRUE(acl.Allows(User("alice"), "c1", Access::kReceive, "news/a/today"));
  EXPECT_FALSE(acl.Allows(User("alice"), "c1", Access::kReceive, "alice/x"));
  EXPECT_FALSE(acl.Allows(User("bob"), "c2", Access::kReceive, "news/a"));
  EXPECT_TRUE(acl.Allows(kAnonymous, "c3", Access::kReceive, "public/a"));
}

TEST(Acl, DenyRulesWinOverAllowRules) {
  Acl acl({
      Rule("*", {"#"}, {"#"}),
      Rule("bob", {}, {}, {"secret/#"}, {"secret/#"}),
  });
  EXPECT_TRUE(acl.Allows(User("alice"), "c1", Access::kPublish, "secret/a"));
  EXPECT_FALSE(acl.Allows(User("bob"), "c2", Access::kPublish, "secret/a"));
  EXPECT_TRUE(acl.Allows(User("bob"), "c2", Access::kPublish, "open/a"));
  EXPECT_FALSE(acl.Allows(User("bob"), "c2", Access::kSubscribe, "secret/+"));
  // A wider subscription is granted but delivers nothing denied.
  EXPECT_TRUE(acl.Allows(User("bob"), "c2", Access::kSubscribe, "#"));
  EXPECT_FALSE(acl.Allows(User("bob"), "c2", Access::kReceive, "secret/a"));
  EXPECT_TRUE(acl.Allows(User("bob"), "c2", Access::kReceive, "open/a"));
  EXPECT_TRUE(acl.Allows(User("alice"), "c1", Access::kReceive, "secret/a"));
}

TEST(Acl, PatternLevelsStandForTheUserNameAndClientId) {
  Acl acl({
      Rule("*", {"devices/%c/#", "users/%u/out"}, {"devices/%c/cmd", "users/%u/#"}),
  });
  EXPECT_TRUE(acl.Allows(User("alice"), "dev1", Access::kPublish, "devices/dev1/temp"));
  EXPECT_FALSE(acl.Allows(User("alice"), "dev1", Access::kPublish, "devices/dev2/temp"));
  EXPECT_TRUE(acl.Allows(User("alice"), "dev1", Access::kPublish, "users/alice/out"));
  EXPECT_FALSE(acl.Allows(User("alice"), "dev1", Access::kPublish, "users/bob/out"));
  EXPECT_TRUE(acl.Allows(User("alice"), "dev1", Access::kSubscribe, "devices/dev1/cmd"));
  EXPECT_FALSE(acl.Allows(User("alice"), "dev1", Access::kSubscribe, "devices/+/cmd"));
  EXPECT_TRUE(acl.Allows(User("alice"), "dev1", Access::kSubscribe, "users/alice/+"));
  EXPECT_FALSE(acl.Allows(User("alice"), "dev1", Access::kSubscribe, "users/#"));
  // The pattern itself is no topic: "%c" as a level matches only itself
  // once filled, and a level that only contains it is literal.
  EXPECT_FALSE(acl.Allows(User("alice"), "dev1", Access::kPublish, "devices/%c/temp"));
  Acl literal({Rule("*", {"a%c/%cb"}, {})});
  EXPECT_TRUE(literal.Allows(User("alice"), "dev1", Access::kPublish, "a%c/%cb"));
  EXPECT_FALSE(literal.Allows(User("alice"), "dev1", Access::kPublish, "adev1/dev1b"));
}

TEST(Acl, NamesThatCannotFillALevelGrantNothingAndDenyEverything) {
  Acl acl({
      Rule("*", {"users/%u/#", "devices/%c/#"}, {"#"}),
      Rule("*", {}, {}, {}, {"private/%u/#"}),
  });
  // No user name: the allow filter with %u matches nothing; the deny
  // filter refuses every user's subtree.
  EXPECT_FALSE(acl.Allows(kAnonymous, "dev1", Access::kPublish, "users/anonymous/x"));
  EXPECT_FALSE(acl.Allows(kAnonymous, "dev1", Access::kPublish, "users/+/x"));
  EXPECT_TRUE(acl.Allows(kAnonymous, "dev1", Access::kPublish, "devices/dev1/x"));
  EXPECT_FALSE(acl.Allows(kAnonymous, "dev1", Access::kSubscribe, "private/alice/#"));
  EXPECT_FALSE(acl.Allows(kAnonymous, "dev1", Access::kReceive, "private/alice/x"));
  EXPECT_TRUE(acl.Allows(kAnonymous, "dev1", Access::kReceive, "public/x"));
  // A user's own private subtree is denied only to that user.
  EXPECT_FALSE(acl.Allows(User("bob"), "c", Access::kReceive, "private/bob/x"));
  EXPECT_TRUE(acl.Allows(User("bob"), "c", Access::kReceive, "private/alice/x"));
  // Wildcards, separators, a leading '$' or nothing at all fill no level:
  // a client id "+" must not reach every device's subtree.
  for (const char* id : {"+", "#", "a/b", "$SYS", ""}) {
    EXPECT_FALSE(acl.Allows(User("bob"), id, Access::kPublish, "devices/x/y")) << id;
    EXPECT_FALSE(acl.Allows(User("bob"), id, Access::kPublish, std::string("devices/") + id + "/y"))
        << id;
  }
  for (const char* name : {"+", "#", "a/b", "$x", ""}) {
    EXPECT_FALSE(acl.Allows(User(name), "c", Access::kSubscribe, "private/x/y")) << name;
    EXPECT_FALSE(acl.Allows(User(name), "c", Access::kReceive, "private/x/y")) << name;
  }
}

}  // namespace
}  // namespace shoal::mqtt
