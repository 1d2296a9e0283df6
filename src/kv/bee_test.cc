#include "kv/bee.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "log/store.h"

namespace shoal::kv {
namespace {

std::unique_ptr<log::Store> MemStore() {
  static int n = 0;
  log::StoreOptions o;
  o.in_memory = true;
  o.seed.emplace();
  o.seed->fill(3);
  return std::move(*log::Store::Open("/mem/kv_test_" + std::to_string(n++), o));
}

using Model = std::map<std::string, std::string>;

std::vector<std::pair<std::string, std::string>> Expected(const Model& m, const Range& r) {
  std::vector<std::pair<std::string, std::string>> out;
  auto in = [&](const std::string& k) {
    auto cmp = [&](const Bytes& b) { return k.compare(std::string(AsString(b))); };
    if (r.gt && cmp(*r.gt) <= 0) return false;
    if (r.gte && cmp(*r.gte) < 0) return false;
    if (r.lt && cmp(*r.lt) >= 0) return false;
    if (r.lte && cmp(*r.lte) > 0) return false;
    return true;
  };
  for (auto& [k, v] : m) {
    if (in(k)) out.emplace_back(k, v);
  }
  if (r.reverse) std::reverse(out.begin(), out.end());
  if (out.size() > r.limit) out.resize(r.limit);
  return out;
}

void CheckList(Bee& bee, const Model& m, const Range& r, std::optional<uint64_t> version) {
  auto got = bee.List(r, version);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  auto want = Expected(m, r);
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); i++) {
    ASSERT_EQ(AsString(got->at(i).key), want[i].first);
    ASSERT_EQ(AsString(got->at(i).value), want[i].second);
  }
}

std::string RandomKey(std::mt19937_64& rng) {
  return "k" + std::to_string(rng() % 400);
}

TEST(Bee, RandomOperationsMatchStdMapAtEveryVersion) {
  auto store = MemStore();
  Bee bee(*store->OpenLog("db"));
  Model model;
  std::map<uint64_t, Model> versions;  // snapshots at some versions
  std::mt19937_64 rng(7);
  for (int step = 0; step < 3000; step++) {
    std::string key = RandomKey(rng);
    if (rng() % 3 == 0) {
      ASSERT_TRUE(bee.Del(AsBytes(key)).ok());
      model.erase(key);
    } else {
      std::string value = "v" + std::to_string(rng() % 50);
      Status put = bee.Put(AsBytes(key), AsBytes(value));
      ASSERT_TRUE(put.ok()) << put.ToString() << " at step " << step;
      model[key] = value;
    }
    if (step % 97 == 0) versions[bee.version()] = model;
    if (step % 50 == 0) {
      for (int k = 0; k < 20; k++) {
        std::string probe = RandomKey(rng);
        auto got = bee.Get(AsBytes(probe));
        ASSERT_TRUE(got.ok()) << got.status().ToString();
        auto it = model.find(probe);
        ASSERT_EQ(got->has_value(), it != model.end()) << probe << " at step " << step;
        if (it != model.end()) {
          ASSERT_EQ(AsString((*got)->value), it->second);
        }
      }
      Range all;
      CheckList(bee, model, all, std::nullopt);
    }
  }
  // Old versions read as they were.
  for (auto& [version, snapshot] : versions) {
    Range r;
    CheckList(bee, snapshot, r, version);
    for (auto& [k, v] : snapshot) {
      auto got = bee.Get(AsBytes(k), version);
      ASSERT_TRUE(got.ok() && got->has_value());
      ASSERT_EQ(AsString((*got)->value), v);
    }
  }
  // Ranges in both directions with every kind of bound and limits.
  for (int k = 0; k < 200; k++) {
    Range r;
    std::string a = RandomKey(rng), b = RandomKey(rng);
    if (a > b) std::swap(a, b);
    switch (rng() % 4) {
      case 0: r.gt = ToBytes(a); break;
      case 1: r.gte = ToBytes(a); break;
      default: break;
    }
    switch (rng() % 3) {
      case 0: r.lt = ToBytes(b); break;
      case 1: r.lte = ToBytes(b); break;
      default: break;
    }
    r.reverse = rng() % 2;
    if (rng() % 2) r.limit = rng() % 20;
    CheckList(bee, model, r, std::nullopt);
  }
}

TEST(Bee, BatchesMatchStdMapAndAreOneAppend) {
  auto store = MemStore();
  auto log = *store->OpenLog("db");
  Bee bee(log);
  Model model;
  std::map<uint64_t, Model> versions;
  std::mt19937_64 rng(11);
  for (int round = 0; round < 150; round++) {
    std::vector<Op> ops;
    int n = 1 + rng() % 40;
    for (int k = 0; k < n; k++) {
      std::string key = RandomKey(rng);
      if (rng() % 3 == 0) {
        ops.push_back(Op{ToBytes(key), std::nullopt});
      } else {
        ops.push_back(Op{ToBytes(key), ToBytes("b" + std::to_string(rng() % 99))});
      }
    }
    const uint64_t fork_before = log->fork();
    ASSERT_TRUE(bee.Apply(ops).ok());
    ASSERT_EQ(log->fork(), fork_before);
    for (const Op& op : ops) {
      std::string key(AsString(op.key));
      if (op.value) {
        model[key] = std::string(AsString(*op.value));
      } else {
        model.erase(key);
      }
    }
    versions[bee.version()] = model;
    Range all;
    CheckList(bee, model, all, std::nullopt);
    if (::testing::Test::HasFatalFailure()) FAIL() << "round " << round;
  }
  for (auto& [version, snapshot] : versions) {
    Range r;
    CheckList(bee, snapshot, r, version);
  }
  // An empty batch writes nothing.
  uint64_t v = bee.version();
  ASSERT_TRUE(bee.Apply({}).ok());
  EXPECT_EQ(bee.version(), v);
}

// The diff between two versions lists exactly the keys whose latest write
// differs, with their entries on each side.
TEST(Bee, DiffMatchesTheModel) {
  auto store = MemStore();
  Bee bee(*store->OpenLog("db"));
  using SeqModel = std::map<std::string, std::pair<uint64_t, std::string>>;
  SeqModel model;
  std::map<uint64_t, SeqModel> versions;
  std::mt19937_64 rng(23);
  versions[bee.version()] = model;
  for (int step = 0; step < 1500; step++) {
    std::string key = RandomKey(rng);
    if (rng() % 3 == 0) {
      ASSERT_TRUE(bee.Del(AsBytes(key)).ok());
      model.erase(key);
    } else {
      std::string value = "v" + std::to_string(rng() % 5);
      ASSERT_TRUE(bee.Put(AsBytes(key), AsBytes(value)).ok());
      model[key] = {bee.version() - 1, value};
    }
    if (rng() % 20 == 0) versions[bee.version()] = model;
  }
  versions[bee.version()] = model;
  std::vector<uint64_t> vs;
  for (auto& [v, m] : versions) vs.push_back(v);
  for (int k = 0; k < 60; k++) {
    uint64_t from = vs[rng() % vs.size()], to = vs[rng() % vs.size()];
    const SeqModel& a = versions[from];
    const SeqModel& b = versions[to];
    std::vector<std::string> want;
    std::set<std::string> keys;
    for (auto& [key, e] : a) keys.insert(key);
    for (auto& [key, e] : b) keys.insert(key);
    for (const std::string& key : keys) {
      auto ia = a.find(key), ib = b.find(key);
      bool in_a = ia != a.end(), in_b = ib != b.end();
      if (in_a && in_b && ia->second.first == ib->second.first) continue;
      want.push_back(key);
    }
    auto got = bee.Diff(from, to);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), want.size()) << from << " -> " << to;
    for (size_t i = 0; i < want.size(); i++) {
      const DiffEntry& d = got->at(i);
      auto ia = a.find(want[i]), ib = b.find(want[i]);
      ASSERT_EQ(d.before.has_value(), ia != a.end()) << want[i];
      ASSERT_EQ(d.after.has_value(), ib != b.end()) << want[i];
      if (d.before) {
        ASSERT_EQ(AsString(d.before->key), want[i]);
        ASSERT_EQ(d.before->seq, ia->second.first);
      }
      if (d.after) {
        ASSERT_EQ(AsString(d.after->key), want[i]);
        ASSERT_EQ(AsString(d.after->value), ib->second.second);
      }
    }
  }
  EXPECT_TRUE(bee.Diff(0)->size() == model.size());
  EXPECT_EQ(bee.Diff(bee.version(), bee.version())->size(), 0u);
  EXPECT_EQ(bee.Diff(0, std::nullopt, 3)->size(), 3u);
}

TEST(Bee, CompareAndSwap) {
  auto store = MemStore();
  Bee bee(*store->OpenLog("db"));
  // Only replace "1" with "2": a counter that never goes back.
  Cas only_from_1 = [](const Entry& prev, const Entry& next) {
    return AsString(prev.value) == "1" && AsString(next.value) == "2";
  };
  for (int i = 0; i < 30; i++) ASSERT_TRUE(bee.Put(AsBytes("k" + std::to_string(i)), AsBytes("1")).ok());
  uint64_t v = bee.version();
  ASSERT_TRUE(bee.Put(AsBytes("k7"), AsBytes("2"), only_from_1).ok());
  EXPECT_EQ(bee.version(), v + 1);
  ASSERT_TRUE(bee.Put(AsBytes("k7"), AsBytes("2"), only_from_1).ok());  // prev is "2" now
  EXPECT_EQ(bee.version(), v + 1);
  // A missing key is written without asking, as hyperbee does.
  ASSERT_TRUE(bee.Put(AsBytes("new"), AsBytes("9"), only_from_1).ok());
  EXPECT_EQ(bee.version(), v + 2);
  Cas never = [](const Entry&, const Entry&) { return false; };
  ASSERT_TRUE(bee.Del(AsBytes("k3"), never).ok());
  EXPECT_TRUE(bee.Get(AsBytes("k3"))->has_value());
  ASSERT_TRUE(bee.Del(AsBytes("k3")).ok());
  EXPECT_FALSE(bee.Get(AsBytes("k3"))->has_value());
  EXPECT_EQ(AsString((*bee.Get(AsBytes("k7")))->value), "2");
}

TEST(Bee, SubDatabasesArePrefixedKeyRanges) {
  auto store = MemStore();
  Bee bee(*store->OpenLog("db"));
  Sub users(bee, AsBytes("users"));
  Sub admins(users, AsBytes("admins"));
  ASSERT_TRUE(bee.Put(AsBytes("usera"), AsBytes("not in the sub")).ok());
  ASSERT_TRUE(users.Put(AsBytes("bob"), AsBytes("1")).ok());
  ASSERT_TRUE(users.Put(AsBytes("amy"), AsBytes("2")).ok());
  ASSERT_TRUE(admins.Put(AsBytes("root"), AsBytes("3")).ok());
  ASSERT_TRUE(bee.Put(AsBytes("users\x01x"), AsBytes("after the sub")).ok());
  // The stored key is prefix || 0x00 || key, as hyperbee's sub writes it.
  auto raw = bee.Get(Bytes{'u', 's', 'e', 'r', 's', 0, 'b', 'o', 'b'});
  ASSERT_TRUE(raw.ok() && raw->has_value());
  EXPECT_EQ(AsString((*users.Get(AsBytes("bob")))->value), "1");
  EXPECT_EQ(AsString((*users.Get(AsBytes("bob")))->key), "bob");
  auto all = *users.List(Range{});
  ASSERT_EQ(all.size(), 3u);  // admins\0root, amy, bob
  EXPECT_EQ(AsString(all[1].key), "amy");
  EXPECT_EQ(AsString(all[2].key), "bob");
  Range from_b;
  from_b.gte = ToBytes("b");
  EXPECT_EQ(users.List(from_b)->size(), 1u);
  auto nested = *admins.List(Range{});
  ASSERT_EQ(nested.size(), 1u);
  EXPECT_EQ(AsString(nested[0].key), "root");
  ASSERT_TRUE(users.Del(AsBytes("amy")).ok());
  EXPECT_FALSE(users.Get(AsBytes("amy"))->has_value());
}

TEST(Bee, WatchCallsBackOnChangesInItsRangeOnly) {
  auto store = MemStore();
  auto log = *store->OpenLog("db");
  Bee bee(log);
  ASSERT_TRUE(bee.Put(AsBytes("a"), AsBytes("0")).ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  Range r;
  r.gte = ToBytes("b");
  r.lt = ToBytes("c");
  auto watch = bee.WatchRange(r, [&](uint64_t from, uint64_t to) {
    std::lock_guard lock(mu);
    calls.emplace_back(from, to);
    cv.notify_all();
  });
  auto wait_for = [&](size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return calls.size() >= n; });
  };
  ASSERT_TRUE(bee.Put(AsBytes("a"), AsBytes("1")).ok());  // outside the range
  ASSERT_TRUE(bee.Put(AsBytes("b1"), AsBytes("1")).ok());  // inside
  ASSERT_TRUE(wait_for(1));
  std::vector<Op> ops = {Op{ToBytes("zz"), ToBytes("1")}, Op{ToBytes("b2"), ToBytes("2")}};
  ASSERT_TRUE(bee.Apply(ops).ok());
  ASSERT_TRUE(wait_for(2));
  ASSERT_TRUE(bee.Put(AsBytes("c"), AsBytes("1")).ok());  // outside (lt c)
  ASSERT_TRUE(bee.Del(AsBytes("b1")).ok());               // inside
  ASSERT_TRUE(wait_for(3));
  watch.reset();
  std::lock_guard lock(mu);
  for (auto& [from, to] : calls) EXPECT_LT(from, to);
  // No call was for the change to "a" or "c" alone: each covers an in-range
  // change, so there are exactly three, ending at the newest version.
  EXPECT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls.back().second, bee.version());
}

TEST(Bee, CompactClearsWhatTheNewestVersionDoesNotUse) {
  auto store = MemStore();
  auto log = *store->OpenLog("db");
  Bee bee(log);
  Model model;
  std::mt19937_64 rng(5);
  for (int step = 0; step < 2000; step++) {
    std::string key = "k" + std::to_string(rng() % 100);
    if (rng() % 4 == 0) {
      ASSERT_TRUE(bee.Del(AsBytes(key)).ok());
      model.erase(key);
    } else {
      std::string value(200, 'a' + rng() % 26);
      ASSERT_TRUE(bee.Put(AsBytes(key), AsBytes(value)).ok());
      model[key] = value;
    }
  }
  const uint64_t old_version = bee.version() / 2;
  auto cleared = bee.Compact();
  ASSERT_TRUE(cleared.ok()) << cleared.status().ToString();
  EXPECT_GT(*cleared, bee.version() / 2);  // most blocks were dead
  uint64_t kept = 0;
  for (uint64_t i = 0; i < log->length(); i++) kept += log->Has(i);
  EXPECT_EQ(kept + *cleared, log->length());
  // The newest version reads as before, from a fresh cache too.
  Range all;
  CheckList(bee, model, all, std::nullopt);
  Bee fresh(log);
  CheckList(fresh, model, all, std::nullopt);
  for (auto& [k, v] : model) EXPECT_EQ(AsString((*fresh.Get(AsBytes(k)))->value), v);
  // An old version that needs a cleared block says so.
  auto old = fresh.List(all, old_version);
  EXPECT_TRUE(!old.ok() && old.status().IsNotFound()) << old.status().ToString();
  // Writing goes on, and compacting again finds only the new garbage.
  ASSERT_TRUE(bee.Put(AsBytes("k1"), AsBytes("new")).ok());
  EXPECT_LE(*bee.Compact(), 4u);
  EXPECT_EQ(AsString((*bee.Get(AsBytes("k1")))->value), "new");
}

TEST(Bee, DelOfMissingKeyWritesNothing) {
  auto store = MemStore();
  Bee bee(*store->OpenLog("db"));
  ASSERT_TRUE(bee.Put(AsBytes("a"), AsBytes("1")).ok());
  uint64_t v = bee.version();
  EXPECT_EQ(v, 2u);  // header + one put
  ASSERT_TRUE(bee.Del(AsBytes("zz")).ok());
  EXPECT_EQ(bee.version(), v);
  ASSERT_TRUE(bee.Put(AsBytes("a"), AsBytes("1")).ok());  // same value: a new block
  EXPECT_EQ(bee.version(), ++v);
  ASSERT_TRUE(bee.Del(AsBytes("a")).ok());
  EXPECT_EQ(bee.version(), v + 1);
  EXPECT_FALSE(bee.Get(AsBytes("a"))->has_value());
  EXPECT_TRUE(bee.Get(AsBytes("a"), v)->has_value());
}

TEST(Bee, NotABeeIsRefused) {
  auto store = MemStore();
  auto log = *store->OpenLog("plain");
  ASSERT_TRUE(log->Append(AsBytes("not a header")).ok());
  Bee bee(log);
  EXPECT_FALSE(bee.Put(AsBytes("a"), AsBytes("1")).ok());
}

TEST(Bee, CorruptIndexIsAnErrorNotALoop) {
  auto store = MemStore();
  auto log = *store->OpenLog("bad");
  ASSERT_TRUE(log->Append(EncodeHeader()).ok());
  // Block 1 whose root points at itself (a cycle), block 2 whose child points
  // forward in the log, block 3 that is not protobuf.
  NodeBlock cycle;
  cycle.key = ToBytes("m");
  cycle.value = ToBytes("x");
  cycle.index = {Level{{1}, {1, 0, 1, 0}}};
  ASSERT_TRUE(log->Append(EncodeNode(cycle)).ok());
  Bee bee(log);
  auto got = bee.Get(AsBytes("a"));
  EXPECT_TRUE(got.status().IsCorruption()) << got.status().ToString();
  NodeBlock forward;
  forward.key = ToBytes("m");
  forward.value = ToBytes("x");
  forward.index = {Level{{2}, {2, 1, 9, 0}}, Level{}};
  ASSERT_TRUE(log->Append(EncodeNode(forward)).ok());
  EXPECT_TRUE(bee.Get(AsBytes("z")).status().IsCorruption());
  // Two levels of one block that point at each other: bounded, not a hang.
  NodeBlock loop;
  loop.key = ToBytes("m");
  loop.value = ToBytes("x");
  loop.index = {Level{{3}, {3, 1, 3, 1}}, Level{{3}, {3, 0, 3, 0}}};
  ASSERT_TRUE(log->Append(EncodeNode(loop)).ok());
  EXPECT_TRUE(bee.Get(AsBytes("a")).status().IsCorruption());
  EXPECT_TRUE(bee.List(Range{}).status().IsCorruption());
  ASSERT_TRUE(log->Append(AsBytes("\xff\xff\xff")).ok());
  EXPECT_FALSE(bee.Get(AsBytes("a")).ok());
  EXPECT_FALSE(bee.List(Range{}).ok());
}

}  // namespace
}  // namespace shoal::kv
