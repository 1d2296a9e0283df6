#include "mqtt/topic.h"

#include <gtest/gtest.h>

namespace shoal::mqtt {
namespace {

TEST(Topic, NamesAndFilters) {
  for (const char* ok : {"a", "a/b", "/a", "a/", "a//b", "$SYS/x", " "}) {
    EXPECT_TRUE(ValidTopicName(ok)) << ok;
  }
  for (const char* bad : {"", "a/+", "#", "a/b#", "a+"}) EXPECT_FALSE(ValidTopicName(bad)) << bad;
  for (const char* ok : {"#", "+", "a/#", "a/+/b", "+/+", "/+", "a//+", "+/#", "$SYS/#"}) {
    EXPECT_TRUE(ValidTopicFilter(ok)) << ok;
  }
  for (const char* bad : {"", "a#", "a/#/b", "a/b+", "+a", "##", "a/++"}) {
    EXPECT_FALSE(ValidTopicFilter(bad)) << bad;
  }
}

TEST(Topic, Matching) {
  struct Case {
    const char* filter;
    const char* name;
    bool match;
  };
  // The examples of MQTT 5.0 §4.7.1 and §4.7.2, and the edges around them.
  const Case cases[] = {
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/#", "sport", true},
      {"#", "sport/tennis", true},
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"a/b", "a/b", true},
      {"a/b", "a/b/c", false},
      {"a/b/c", "a/b", false},
      {"a//b", "a//b", true},
      {"a/+/b", "a//b", true},
      {"#", "$SYS/broker/uptime", false},
      {"+/broker/uptime", "$SYS/broker/uptime", false},
      {"$SYS/#", "$SYS/broker/uptime", true},
      {"$SYS/+/uptime", "$SYS/broker/uptime", true},
      {"A", "a", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Matches(c.filter, c.name), c.match) << c.filter << " ~ " << c.name;
  }
}

TEST(Topic, Covers) {
  struct Case {
    const char* outer;
    const char* inner;
    bool covers;
  };
  const Case cases[] = {
      {"#", "a/b", true},         {"#", "#", true},          {"#", "$SYS/#", false},
      {"a/#", "a", true},         {"a/#", "a/+/b", true},    {"a/#", "a/#", true},
      {"a/#", "b/#", false},      {"a/+", "a/b", true},      {"a/+", "a/+", true},
      {"a/+", "a/#", false},      {"a/+", "a/b/c", false},   {"+/b", "#", false},
      {"a/b", "a/+", false},      {"a/b", "a/b", true},      {"a/b", "a", false},
      {"$SYS/#", "$SYS/x", true}, {"+/x", "$SYS/x", false},  {"a/+/c", "a/b/c", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Covers(c.outer, c.inner), c.covers) << c.outer << " covers " << c.inner;
  }
}

TEST(Topic, SharedSubscriptions) {
  auto s = ParseShared("$share/g1/sensors/+");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->group, "g1");
  EXPECT_EQ((*s)->filter, "sensors/+");
  EXPECT_FALSE(ParseShared("sensors/+").value().has_value());
  EXPECT_FALSE(ParseShared("$shared/g/a").value().has_value());
  for (const char* bad : {"$share", "$share/", "$share/g", "$share//a", "$share/g+/a", "$share/#/a",
                          "$share/g/a#", "$share/g/"}) {
    EXPECT_FALSE(ParseShared(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace shoal::mqtt
