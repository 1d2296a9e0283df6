// TopicTree: the broker's subscriptions, by filter level, for matching a
// topic name against all of them at once.
//
// Each node is one filter level; '+' and '#' are children of their own, so
// matching a name of L levels visits at most the nodes on the paths that
// can match it, whatever the number of subscriptions. Shared subscriptions
// ($share/GROUP/FILTER) hang off the node of FILTER, one member list per
// group; a message goes to one member of each matching group, in turn.
//
// Not thread-safe: the broker owns it on its thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shoal::mqtt {

// How one session subscribed to one filter.
struct SubOptions {
  uint8_t qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0;
  uint32_t subscription_id = 0;  // 0: none

  bool operator==(const SubOptions&) const = default;
};

class TopicTree {
 public:
  using SessionId = uint64_t;
  // Called once per matching subscription: a plain one, or the chosen member
  // of a share group (`shared` true).
  using MatchFn = std::function<void(SessionId, const SubOptions&, bool shared)>;
  // Says whether a share group member can take a message now (connected);
  // others are passed over while any member can.
  using ReadyFn = std::function<bool(SessionId)>;

  TopicTree();
  ~TopicTree();
  TopicTree(const TopicTree&) = delete;
  TopicTree& operator=(const TopicTree&) = delete;

  // Adds `session`'s subscription to `filter` (a valid, non-shared filter)
  // in `group` ("" for none), or replaces its options. True if it is new.
  bool Add(std::string_view filter, std::string_view group, SessionId session,
           const SubOptions& options);
  // Removes it. True if there was one.
  bool Remove(std::string_view filter, std::string_view group, SessionId session);

  // Every subscription matching topic name `name` (valid), in no set order.
  void Match(std::string_view name, const ReadyFn& ready, const MatchFn& fn);

  size_t size() const { return size_; }

 private:
  struct Node;
  struct Group;

  std::unique_ptr<Node> root_;
  size_t size_ = 0;
};

}  // namespace shoal::mqtt
