// kv_bench: Shoal's database (kv::Bee on a disk log::Store), measured the way
// bench/kv_bench.js measures the JS hyperbee, so bench/run-kv can put the two
// side by side. Beside every figure it measures the storage engine alone
// (storage::Db, i.e. RocksDB with the options the Store uses) doing the same
// work on the same keys and values: that is the line's "limit".
//
// The data: `keys` entries of a 16-byte key and a 100-byte value, both made of
// little-endian xorshift32 words from fixed seeds (kv_bench.js makes the same
// bytes). Keys are random, so they arrive in random order; the first word of
// each key is a distinct xorshift32 output, so no two keys are equal.
//
// Workloads, each from an empty store in a new temporary directory under
// $TMPDIR (default /tmp), deleted afterwards:
//
//   kv.memory.peak    batched load of every key, reopen, random gets; the
//                     peak resident set of a process that did only that (MB)
//   kv.put.single     one Put per call (count and 10 s bound)
//   kv.put.batch1000  every key loaded 1,000 ops per Apply
//   kv.get.random     random Gets of existing keys after a reopen
//   kv.scan           one List of the whole database after a reopen (keys/s)
//
// The memory workload runs first and in forked children (one for Shoal, one
// for the engine alone), so each peak covers that work and nothing else.
//
// Flags (for profiling smaller runs): --only=PREFIX runs the workloads whose
// name starts with PREFIX; --scale=F multiplies every count by F.
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "bench_util.h"
#include "base/result.h"
#include "base/status.h"
#include "kv/bee.h"
#include "log/log.h"
#include "log/store.h"
#include "storage/db.h"

namespace shoal::bench {
namespace {

// Loops that measure a rate stop after this long, whatever their count.
constexpr double kTimeLimitSeconds = 10.0;
// Loads that later workloads need whole fail rather than run past this.
constexpr double kLoadTimeLimitSeconds = 120.0;

constexpr size_t kKeySize = 16;
constexpr size_t kValueSize = 100;
constexpr uint32_t kKeySeed = 11;
constexpr uint32_t kValueSeed = 12;
constexpr uint32_t kOrderSeed = 13;

struct Counts {
  uint64_t keys = 100'000;
  uint64_t batch = 1'000;
  uint64_t gets = 100'000;
};




// The keys, their values, and the order of the random gets (indices into
// both), as kv_bench.js makes them.
struct Data {
  std::vector<Bytes> keys;
  std::vector<Bytes> values;
  std::vector<uint64_t> order;

  static Data Make(const Counts& c) {
    Data d{MakeItems(c.keys, kKeySize, kKeySeed), MakeItems(c.keys, kValueSize, kValueSeed), {}};
    Rng rng(kOrderSeed);
    d.order.resize(c.gets);
    for (uint64_t& i : d.order) i = rng.Next() % c.keys;
    return d;
  }
};



// A fresh store in its own temporary directory, with a database in one log.
// Members are destroyed bottom up: the database, the log, then the store that
// must outlive it, then the directory.
struct Fixture {
  TempDir dir;
  std::unique_ptr<log::Store> store;
  std::shared_ptr<log::Log> log;
  std::unique_ptr<kv::Bee> bee;

  static Result<Fixture> Create() {
    SHOAL_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
    Fixture f{std::move(dir), nullptr, nullptr, nullptr};
    SHOAL_RETURN_IF_ERROR(f.Open());
    return f;
  }
  Status Open() {
    SHOAL_ASSIGN_OR_RETURN(store, log::Store::Open(dir.path() + "/db"));
    SHOAL_ASSIGN_OR_RETURN(log, store->OpenLog("bench"));
    bee = std::make_unique<kv::Bee>(log);
    return Status::OK();
  }
  // Closes and reopens the store, so reads start from disk with cold caches
  // (RocksDB writes the replayed write-ahead log to a table file at open).
  Status Reopen() {
    bee.reset();
    log.reset();
    store.reset();
    return Open();
  }
};

std::vector<kv::Op> BatchOps(const Data& d, uint64_t begin, uint64_t end) {
  std::vector<kv::Op> ops;
  ops.reserve(end - begin);
  for (uint64_t i = begin; i < end; i++) ops.push_back(kv::Op{d.keys[i], d.values[i]});
  return ops;
}

// Loads every key, `batch` per Apply. Returns the keys loaded (all of them
// unless `time_limit` ran out).
Result<uint64_t> LoadBatched(kv::Bee& bee, const Data& d, const Counts& c, double time_limit) {
  uint64_t done = 0;
  const auto start = Clock::now();
  while (done < c.keys && SecondsSince(start) < time_limit) {
    const uint64_t end = std::min(done + c.batch, c.keys);
    auto ops = BatchOps(d, done, end);
    SHOAL_RETURN_IF_ERROR(bee.Apply(ops));
    done = end;
  }
  return done;
}

Status LoadAll(kv::Bee& bee, const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(uint64_t done, LoadBatched(bee, d, c, kLoadTimeLimitSeconds));
  if (done != c.keys) {
    return Status::IOError("loaded only " + std::to_string(done) + " keys in " +
                           std::to_string(kLoadTimeLimitSeconds) + " s");
  }
  return Status::OK();
}

// Checks that a Get found key `i` with its value.
Status CheckGot(const std::optional<kv::Entry>& e, const Data& d, uint64_t i) {
  if (!e) return Status::Corruption("key " + std::to_string(i) + " is missing");
  if (!Equal(e->key, d.keys[i]) || !Equal(e->value, d.values[i])) {
    return Status::Corruption("key " + std::to_string(i) + " came back different");
  }
  return Status::OK();
}

// ---- Shoal ----

// Puts per second, one Put per call, keys in random order.
Result<double> PutSingle(const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  uint64_t done = 0;
  const auto start = Clock::now();
  while (done < c.keys && SecondsSince(start) < kTimeLimitSeconds) {
    SHOAL_RETURN_IF_ERROR(f.bee->Put(d.keys[done], d.values[done]));
    done++;
  }
  const double seconds = SecondsSince(start);
  // One block per put, after the header.
  if (f.bee->version() != done + 1) return Status::Corruption("version differs from the puts");
  return done / seconds;
}

struct LoadResult {
  double ops_per_second;
  std::string tree_hash;
};

// Puts per second when every key goes in `batch` per Apply.
Result<LoadResult> PutBatched(const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  const auto start = Clock::now();
  SHOAL_ASSIGN_OR_RETURN(uint64_t done, LoadBatched(*f.bee, d, c, kLoadTimeLimitSeconds));
  const double seconds = SecondsSince(start);
  if (f.bee->version() != done + 1) return Status::Corruption("version differs from the puts");
  // The last batch's key is there (outside the timed part).
  SHOAL_ASSIGN_OR_RETURN(auto last, f.bee->Get(d.keys[done - 1]));
  SHOAL_RETURN_IF_ERROR(CheckGot(last, d, done - 1));
  return LoadResult{done / seconds, ToHex(f.log->tree_hash())};
}

// Random gets per second over a reopened database of every key.
Result<LoadResult> GetRandom(const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  SHOAL_RETURN_IF_ERROR(LoadAll(*f.bee, d, c));
  SHOAL_RETURN_IF_ERROR(f.Reopen());
  uint64_t done = 0;
  uint64_t found = 0;
  const auto start = Clock::now();
  while (done < c.gets && SecondsSince(start) < kTimeLimitSeconds) {
    SHOAL_ASSIGN_OR_RETURN(auto e, f.bee->Get(d.keys[d.order[done]]));
    if (e && e->value.size() == kValueSize) found++;
    done++;
  }
  const double seconds = SecondsSince(start);
  if (found != done) return Status::Corruption("a get missed its key or value");
  // Outside the timed loop: the values read are the values written.
  for (uint64_t i = 0; i < std::min<uint64_t>(done, 1000); i++) {
    SHOAL_ASSIGN_OR_RETURN(auto e, f.bee->Get(d.keys[d.order[i]]));
    SHOAL_RETURN_IF_ERROR(CheckGot(e, d, d.order[i]));
  }
  return LoadResult{done / seconds, ToHex(f.log->tree_hash())};
}

// The indices of the keys in key order: what a full scan must return.
std::vector<uint64_t> SortedIndices(const Data& d) {
  std::vector<uint64_t> idx(d.keys.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&d](uint64_t a, uint64_t b) { return d.keys[a] < d.keys[b]; });
  return idx;
}

struct ScanResult {
  double keys_per_second;
  uint64_t keys;
  std::string tree_hash;
};

// Keys per second of one List of the whole reopened database.
Result<ScanResult> Scan(const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  SHOAL_RETURN_IF_ERROR(LoadAll(*f.bee, d, c));
  SHOAL_RETURN_IF_ERROR(f.Reopen());
  const auto start = Clock::now();
  SHOAL_ASSIGN_OR_RETURN(auto entries, f.bee->List(kv::Range{}));
  const double seconds = SecondsSince(start);
  // Every key, in order, with its value.
  auto sorted = SortedIndices(d);
  if (entries.size() != sorted.size()) {
    return Status::Corruption("the scan returned " + std::to_string(entries.size()) + " keys");
  }
  for (size_t i = 0; i < entries.size(); i++) {
    if (!Equal(entries[i].key, d.keys[sorted[i]]) ||
        !Equal(entries[i].value, d.values[sorted[i]])) {
      return Status::Corruption("scan entry " + std::to_string(i) + " is not the expected one");
    }
  }
  return ScanResult{entries.size() / seconds, entries.size(), ToHex(f.log->tree_hash())};
}

// ---- the storage engine alone: the same keys and values, no tree, no log ----

struct RawFixture {
  TempDir dir;
  std::unique_ptr<storage::Db> db;

  static Result<RawFixture> Create() {
    SHOAL_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
    RawFixture f{std::move(dir), nullptr};
    SHOAL_RETURN_IF_ERROR(f.Open());
    return f;
  }
  // The options log::Store opens its database with (StoreOptions defaults).
  Status Open() {
    storage::Options options;
    options.block_cache_bytes = log::StoreOptions{}.cache_bytes;
    SHOAL_ASSIGN_OR_RETURN(db, storage::Db::Open(dir.path() + "/db", options));
    return Status::OK();
  }
  Status Reopen() {
    db.reset();
    return Open();
  }
};

Result<uint64_t> RawLoadBatched(storage::Db& db, const Data& d, const Counts& c,
                                double time_limit) {
  uint64_t done = 0;
  const auto start = Clock::now();
  while (done < c.keys && SecondsSince(start) < time_limit) {
    const uint64_t end = std::min(done + c.batch, c.keys);
    storage::WriteBatch wb((end - done) * (kKeySize + kValueSize + 16));
    for (uint64_t i = done; i < end; i++) wb.Put(d.keys[i], d.values[i]);
    SHOAL_RETURN_IF_ERROR(db.Write(wb));
    done = end;
  }
  return done;
}

Status RawLoadAll(storage::Db& db, const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(uint64_t done, RawLoadBatched(db, d, c, kLoadTimeLimitSeconds));
  if (done != c.keys) return Status::IOError("raw load did not finish in time");
  return Status::OK();
}

Result<double> RawPutSingle(const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(RawFixture f, RawFixture::Create());
  uint64_t done = 0;
  const auto start = Clock::now();
  while (done < c.keys && SecondsSince(start) < kTimeLimitSeconds) {
    storage::WriteBatch wb;
    wb.Put(d.keys[done], d.values[done]);
    SHOAL_RETURN_IF_ERROR(f.db->Write(wb));
    done++;
  }
  return done / SecondsSince(start);
}

Result<double> RawPutBatched(const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(RawFixture f, RawFixture::Create());
  const auto start = Clock::now();
  SHOAL_ASSIGN_OR_RETURN(uint64_t done, RawLoadBatched(*f.db, d, c, kLoadTimeLimitSeconds));
  return done / SecondsSince(start);
}

// Random gets per second over the reopened database.
Result<double> RawGetRandom(RawFixture& f, const Data& d, const Counts& c) {
  uint64_t done = 0;
  uint64_t found = 0;
  Bytes value;
  const auto start = Clock::now();
  while (done < c.gets && SecondsSince(start) < kTimeLimitSeconds) {
    SHOAL_RETURN_IF_ERROR(f.db->Get(d.keys[d.order[done]], &value));
    if (value.size() == kValueSize) found++;
    done++;
  }
  const double seconds = SecondsSince(start);
  if (found != done) return Status::Corruption("a raw get returned the wrong size");
  return done / seconds;
}

Result<double> RawGets(const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(RawFixture f, RawFixture::Create());
  SHOAL_RETURN_IF_ERROR(RawLoadAll(*f.db, d, c));
  SHOAL_RETURN_IF_ERROR(f.Reopen());
  return RawGetRandom(f, d, c);
}

// Keys per second of one iterator over the whole reopened database, copying
// each key and value out as List does.
Result<double> RawScan(const Data& d, const Counts& c) {
  SHOAL_ASSIGN_OR_RETURN(RawFixture f, RawFixture::Create());
  SHOAL_RETURN_IF_ERROR(RawLoadAll(*f.db, d, c));
  SHOAL_RETURN_IF_ERROR(f.Reopen());
  const auto start = Clock::now();
  std::vector<std::pair<Bytes, Bytes>> out;
  // From the smallest non-empty key (the facade needs a non-empty lower
  // bound), with no upper bound.
  const uint8_t lowest[1] = {0};
  auto it = f.db->NewIterator(ByteView(lowest, 1), ByteView());
  for (it->SeekToFirst(); it->Valid() && out.size() <= c.keys; it->Next()) {
    out.emplace_back(Bytes(it->key().begin(), it->key().end()),
                     Bytes(it->value().begin(), it->value().end()));
  }
  SHOAL_RETURN_IF_ERROR(it->status());
  const double seconds = SecondsSince(start);
  if (out.size() != c.keys) return Status::Corruption("the raw scan saw the wrong key count");
  return out.size() / seconds;
}

// ---- peak memory, each side in a process of its own ----

// The memory workload: batched load of every key, reopen, random gets.
Status MemoryWorkloadShoal(const Counts& c) {
  const Data d = Data::Make(c);
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  SHOAL_RETURN_IF_ERROR(LoadAll(*f.bee, d, c));
  SHOAL_RETURN_IF_ERROR(f.Reopen());
  for (uint64_t i = 0; i < c.gets; i++) {
    SHOAL_ASSIGN_OR_RETURN(auto e, f.bee->Get(d.keys[d.order[i]]));
    if (!e) return Status::Corruption("a get missed its key");
  }
  return Status::OK();
}

Status MemoryWorkloadRaw(const Counts& c) {
  const Data d = Data::Make(c);
  SHOAL_ASSIGN_OR_RETURN(RawFixture f, RawFixture::Create());
  SHOAL_RETURN_IF_ERROR(RawLoadAll(*f.db, d, c));
  SHOAL_RETURN_IF_ERROR(f.Reopen());
  Bytes value;
  for (uint64_t i = 0; i < c.gets; i++) {
    SHOAL_RETURN_IF_ERROR(f.db->Get(d.keys[d.order[i]], &value));
  }
  return Status::OK();
}

// Runs `work` in a forked child and returns the child's peak resident set in
// MB (10^6 bytes; ru_maxrss counts KiB). Call it before this process has
// started threads or grown: the child starts as a copy of it.
Result<double> PeakMemoryOfChild(Status (*work)(const Counts&), const Counts& c) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return Status::IOError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    Status s = work(c);
    if (!s.ok()) std::fprintf(stderr, "kv_bench: memory child: %s\n", s.ToString().c_str());
    std::fflush(nullptr);
    _exit(s.ok() ? 0 : 1);
  }
  int wstatus = 0;
  struct rusage usage {};
  pid_t got;
  do {
    got = wait4(pid, &wstatus, 0, &usage);
  } while (got < 0 && errno == EINTR);
  if (got != pid) return Status::IOError(std::string("wait4: ") + std::strerror(errno));
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return Status::IOError("the memory child failed");
  }
  return usage.ru_maxrss * 1024.0 / 1e6;
}

void PrintRate(std::string_view bench, std::string_view unit, double shoal, double limit,
               std::string_view extra = {}) {
  std::printf("{\"bench\":\"%.*s\",\"unit\":\"%.*s\",\"shoal\":%.0f,\"limit\":%.0f%.*s}\n",
              static_cast<int>(bench.size()), bench.data(), static_cast<int>(unit.size()),
              unit.data(), shoal, limit, static_cast<int>(extra.size()), extra.data());
  std::fflush(stdout);
}

int Run(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, "kv_bench");
  if (!args) return 2;
  Counts c;
  auto scaled = [&](uint64_t n, uint64_t unit) { return args->Scaled(n, unit); };
  c.keys = scaled(c.keys, c.batch);
  c.gets = scaled(c.gets, 1);

  auto wanted = [&](std::string_view name) { return args->Wants(name); };
  auto fail = [](std::string_view bench, const Status& s) {
    std::fprintf(stderr, "kv_bench: %.*s: %s\n", static_cast<int>(bench.size()), bench.data(),
                 s.ToString().c_str());
    return 1;
  };

  // First, while this process is still small and has no threads to fork.
  if (wanted("kv.memory.peak")) {
    auto shoal = PeakMemoryOfChild(MemoryWorkloadShoal, c);
    if (!shoal.ok()) return fail("kv.memory.peak", shoal.status());
    auto raw = PeakMemoryOfChild(MemoryWorkloadRaw, c);
    if (!raw.ok()) return fail("kv.memory.peak", raw.status());
    std::printf("{\"bench\":\"kv.memory.peak\",\"unit\":\"MB\",\"shoal\":%.1f,\"limit\":%.1f}\n",
                *shoal, *raw);
    std::fflush(stdout);
  }
  if (!wanted("kv.put.single") && !wanted("kv.put.batch1000") && !wanted("kv.get.random") &&
      !wanted("kv.scan")) {
    return 0;
  }
  const Data d = Data::Make(c);
  if (wanted("kv.put.single")) {
    auto r = PutSingle(d, c);
    if (!r.ok()) return fail("kv.put.single", r.status());
    auto raw = RawPutSingle(d, c);
    if (!raw.ok()) return fail("kv.put.single", raw.status());
    PrintRate("kv.put.single", "ops/s", *r, *raw);
  }
  if (wanted("kv.put.batch1000")) {
    auto r = PutBatched(d, c);
    if (!r.ok()) return fail("kv.put.batch1000", r.status());
    auto raw = RawPutBatched(d, c);
    if (!raw.ok()) return fail("kv.put.batch1000", raw.status());
    PrintRate("kv.put.batch1000", "ops/s", r->ops_per_second, *raw,
              ",\"tree_hash\":\"" + r->tree_hash + "\"");
  }
  if (wanted("kv.get.random")) {
    auto r = GetRandom(d, c);
    if (!r.ok()) return fail("kv.get.random", r.status());
    auto raw = RawGets(d, c);
    if (!raw.ok()) return fail("kv.get.random", raw.status());
    PrintRate("kv.get.random", "ops/s", r->ops_per_second, *raw,
              ",\"tree_hash\":\"" + r->tree_hash + "\"");
  }
  if (wanted("kv.scan")) {
    auto r = Scan(d, c);
    if (!r.ok()) return fail("kv.scan", r.status());
    auto raw = RawScan(d, c);
    if (!raw.ok()) return fail("kv.scan", raw.status());
    PrintRate("kv.scan", "keys/s", r->keys_per_second, *raw,
              ",\"keys\":" + std::to_string(r->keys) + ",\"tree_hash\":\"" + r->tree_hash + "\"");
  }
  return 0;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) { return shoal::bench::Run(argc, argv); }
