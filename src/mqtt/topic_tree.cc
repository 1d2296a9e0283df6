#include "mqtt/topic_tree.h"

#include <algorithm>

namespace shoal::mqtt {
namespace {

// The levels of a name or filter: "a/b" → "a", "b"; "a/" → "a", "".
std::vector<std::string_view> Levels(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find('/', start);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

// Hashes std::string and std::string_view alike, so matching looks levels
// up without building a string for each.
struct LevelHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct TopicTree::Group {
  std::vector<std::pair<SessionId, SubOptions>> members;
  size_t next = 0;  // whose turn it is
};

struct TopicTree::Node {
  Node* parent = nullptr;
  std::string level;
  std::unordered_map<std::string, std::unique_ptr<Node>, LevelHash, std::equal_to<>> children;
  std::unordered_map<SessionId, SubOptions> subscribers;
  std::map<std::string, Group, std::less<>> groups;

  bool Empty() const { return children.empty() && subscribers.empty() && groups.empty(); }
};

TopicTree::TopicTree() : root_(std::make_unique<Node>()) {}
TopicTree::~TopicTree() = default;

bool TopicTree::Add(std::string_view filter, std::string_view group, SessionId session,
                    const SubOptions& options) {
  Node* node = root_.get();
  for (std::string_view level : Levels(filter)) {
    auto it = node->children.find(level);
    if (it == node->children.end()) {
      auto child = std::make_unique<Node>();
      child->parent = node;
      child->level = std::string(level);
      it = node->children.emplace(child->level, std::move(child)).first;
    }
    node = it->second.get();
  }
  if (group.empty()) {
    auto [it, added] = node->subscribers.insert_or_assign(session, options);
    size_ += added;
    return added;
  }
  Group& g = node->groups[std::string(group)];
  for (auto& [id, opts] : g.members) {
    if (id == session) {
      opts = options;
      return false;
    }
  }
  g.members.emplace_back(session, options);
  size_++;
  return true;
}

bool TopicTree::Remove(std::string_view filter, std::string_view group, SessionId session) {
  Node* node = root_.get();
  for (std::string_view level : Levels(filter)) {
    auto it = node->children.find(level);
    if (it == node->children.end()) return false;
    node = it->second.get();
  }
  bool removed = false;
  if (group.empty()) {
    removed = node->subscribers.erase(session) > 0;
  } else if (auto g = node->groups.find(group); g != node->groups.end()) {
    auto& m = g->second.members;
    auto at = std::find_if(m.begin(), m.end(), [&](const auto& e) { return e.first == session; });
    if (at != m.end()) {
      m.erase(at);
      removed = true;
      if (m.empty()) node->groups.erase(g);
    }
  }
  if (!removed) return false;
  size_--;
  // Drop the nodes nothing hangs off any more.
  while (node != root_.get() && node->Empty()) {
    Node* parent = node->parent;
    parent->children.erase(node->level);
    node = parent;
  }
  return true;
}

void TopicTree::Match(std::string_view name, const ReadyFn& ready, const MatchFn& fn) {
  std::vector<std::string_view> levels = Levels(name);
  auto deliver = [&](Node* node) {
    for (const auto& [id, opts] : node->subscribers) fn(id, opts, false);
    for (auto& [group_name, g] : node->groups) {
      if (g.members.empty()) continue;
      // The next member in turn that is ready, or, if none is, the next one.
      size_t n = g.members.size();
      size_t pick = g.next % n;
      for (size_t k = 0; k < n; k++) {
        size_t i = (g.next + k) % n;
        if (ready(g.members[i].first)) {
          pick = i;
          break;
        }
      }
      g.next = pick + 1;
      fn(g.members[pick].first, g.members[pick].second, true);
    }
  };
  // Depth-first over the nodes that can match; `depth` levels are matched.
  const bool dollar = !name.empty() && name[0] == '$';
  std::vector<std::pair<Node*, size_t>> stack{{root_.get(), 0}};
  while (!stack.empty()) {
    auto [node, depth] = stack.back();
    stack.pop_back();
    // A leading wildcard does not match a $ name.
    const bool wild_ok = !(dollar && depth == 0);
    if (wild_ok) {
      if (auto h = node->children.find(std::string_view("#")); h != node->children.end()) deliver(h->second.get());
    }
    if (depth == levels.size()) {
      deliver(node);
      continue;
    }
    if (auto c = node->children.find(levels[depth]); c != node->children.end()) {
      stack.emplace_back(c->second.get(), depth + 1);
    }
    if (wild_ok) {
      if (auto p = node->children.find(std::string_view("+")); p != node->children.end()) {
        stack.emplace_back(p->second.get(), depth + 1);
      }
    }
  }
}

}  // namespace shoal::mqtt
