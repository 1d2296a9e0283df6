// log_bench: Shoal's log on disk, measured the way bench/log_bench.js measures
// Hypercore, so bench/run can put the two side by side.
//
// Each workload opens a fresh Store in its own temporary directory (under
// $TMPDIR, default /tmp), runs a loop bounded in both count and time, prints
// one JSON line and deletes the directory:
//
//   {"bench":"log.append.1KiB.single","unit":"ops/s","shoal":N}
//
// Block contents and the order of random reads come from xorshift32 with fixed
// seeds, generated identically by log_bench.js, so both sides hash and store
// the same bytes. The random-read line also carries the tree hash of the log
// it read, which bench/run compares with the JS side's.
//
// Flags (for profiling smaller runs): --only=PREFIX runs the workloads whose
// name starts with PREFIX; --scale=F multiplies every count by F.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "bench_util.h"
#include "base/result.h"
#include "base/status.h"
#include "log/log.h"
#include "log/store.h"
#include "storage/db.h"

namespace shoal::bench {
namespace {

// Every measured loop stops after this long, whatever its count.
constexpr double kTimeLimitSeconds = 10.0;

constexpr size_t kSmallBlock = 1024;
constexpr size_t kSmallPool = 4096;  // 4 MiB of distinct 1 KiB blocks
constexpr size_t kLargeBlock = 64 * 1024;
constexpr size_t kLargePool = 64;  // 4 MiB of distinct 64 KiB blocks
constexpr uint32_t kSmallSeed = 1;
constexpr uint32_t kIndexSeed = 2;
constexpr uint32_t kLargeSeed = 3;

struct Counts {
  uint64_t single = 20'000;
  uint64_t batched = 200'000;
  uint64_t batch_size = 100;
  uint64_t get_log = 100'000;
  uint64_t get_build_batch = 1'000;
  uint64_t gets = 200'000;
  uint64_t large_bytes = 100ull << 20;
  uint64_t large_batch = 16;
};



// `count` distinct blocks of `size` bytes, filled with little-endian words.



// A fresh store in its own temporary directory, with one writable log.
// Members are destroyed bottom up: the log, then the store that must outlive
// it, then the directory.
struct Fixture {
  TempDir dir;
  std::unique_ptr<log::Store> store;
  std::shared_ptr<log::Log> log;

  static Result<Fixture> Create() {
    SHOAL_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
    Fixture f{std::move(dir), nullptr, nullptr};
    SHOAL_RETURN_IF_ERROR(f.Open());
    return f;
  }
  Status Open() {
    SHOAL_ASSIGN_OR_RETURN(store, log::Store::Open(dir.path() + "/db"));
    SHOAL_ASSIGN_OR_RETURN(log, store->OpenLog("bench"));
    return Status::OK();
  }
  // Closes and reopens the store. RocksDB flushes the replayed write-ahead log
  // to a table file at open, so later reads come from table files.
  Status Reopen() {
    log.reset();
    store.reset();
    return Open();
  }
};

void PrintOps(std::string_view bench, double ops_per_second) {
  std::printf("{\"bench\":\"%.*s\",\"unit\":\"ops/s\",\"shoal\":%.0f}\n",
              static_cast<int>(bench.size()), bench.data(), ops_per_second);
  std::fflush(stdout);
}

// Ops per second of single-block appends.
Result<double> AppendSingle(const Counts& c) {
  auto pool = MakeItems(kSmallPool, kSmallBlock, kSmallSeed);
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  uint64_t done = 0;
  const auto start = Clock::now();
  while (done < c.single && SecondsSince(start) < kTimeLimitSeconds) {
    SHOAL_RETURN_IF_ERROR(f.log->Append(ByteView(pool[done % kSmallPool])).status());
    done++;
  }
  const double seconds = SecondsSince(start);
  if (f.log->length() != done) return Status::Corruption("log length differs from appends");
  return done / seconds;
}

// Blocks per second when each call appends `batch_size` blocks.
Result<double> AppendBatched(const Counts& c) {
  auto pool = MakeItems(kSmallPool, kSmallBlock, kSmallSeed);
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  std::vector<ByteView> batch(c.batch_size);
  uint64_t done = 0;
  const auto start = Clock::now();
  while (done < c.batched && SecondsSince(start) < kTimeLimitSeconds) {
    for (uint64_t i = 0; i < c.batch_size; i++) batch[i] = pool[(done + i) % kSmallPool];
    SHOAL_RETURN_IF_ERROR(f.log->Append(batch).status());
    done += c.batch_size;
  }
  const double seconds = SecondsSince(start);
  if (f.log->length() != done) return Status::Corruption("log length differs from appends");
  return done / seconds;
}

struct GetResult {
  double ops_per_second;
  std::string tree_hash;
};

// Random gets over a reopened log of `get_log` blocks.
Result<GetResult> GetRandom(const Counts& c) {
  auto pool = MakeItems(kSmallPool, kSmallBlock, kSmallSeed);
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  std::vector<ByteView> batch;
  for (uint64_t i = 0; i < c.get_log;) {
    batch.clear();
    for (; batch.size() < c.get_build_batch && i < c.get_log; i++) {
      batch.push_back(pool[i % kSmallPool]);
    }
    SHOAL_RETURN_IF_ERROR(f.log->Append(batch).status());
  }
  SHOAL_RETURN_IF_ERROR(f.Reopen());
  if (f.log->length() != c.get_log) return Status::Corruption("reopened log has the wrong length");

  Rng rng(kIndexSeed);
  std::vector<uint64_t> order(c.gets);
  for (uint64_t& index : order) index = rng.Next() % c.get_log;

  uint64_t done = 0;
  size_t bytes = 0;
  const auto start = Clock::now();
  while (done < c.gets && SecondsSince(start) < kTimeLimitSeconds) {
    SHOAL_ASSIGN_OR_RETURN(Bytes block, f.log->Get(order[done]));
    bytes += block.size();
    done++;
  }
  const double seconds = SecondsSince(start);
  if (bytes != done * kSmallBlock) return Status::Corruption("a block came back the wrong size");
  // Outside the timed loop: the blocks read are the blocks written.
  for (uint64_t i = 0; i < std::min<uint64_t>(done, 1000); i++) {
    SHOAL_ASSIGN_OR_RETURN(Bytes block, f.log->Get(order[i]));
    if (!Equal(block, pool[order[i] % kSmallPool])) {
      return Status::Corruption("block " + std::to_string(order[i]) + " differs from its write");
    }
  }
  return GetResult{done / seconds, ToHex(f.log->tree_hash())};
}

// The storage engine's own limit for the same work, measured with the same
// database options: 1 KiB values under sequential 18-byte keys, `batch_size`
// per write batch, with nothing else (no tree, no signature, no checksum).
Result<double> RawBatchedPuts(const Counts& c) {
  auto pool = MakeItems(kSmallPool, kSmallBlock, kSmallSeed);
  SHOAL_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  SHOAL_ASSIGN_OR_RETURN(auto db, storage::Db::Open(dir.path() + "/db"));
  uint64_t done = 0;
  uint8_t key[18] = {0x10};
  const auto start = Clock::now();
  while (done < c.batched && SecondsSince(start) < kTimeLimitSeconds) {
    storage::WriteBatch wb(c.batch_size * (kSmallBlock + 40));
    for (uint64_t i = 0; i < c.batch_size; i++) {
      PutU64BE(key + 10, done + i);
      wb.Put(ByteView(key, sizeof(key)), pool[(done + i) % kSmallPool]);
    }
    SHOAL_RETURN_IF_ERROR(db->Write(wb));
    done += c.batch_size;
  }
  return done / SecondsSince(start);
}

// Random gets of 1 KiB values from the raw database, reopened as above.
Result<double> RawRandomGets(const Counts& c) {
  auto pool = MakeItems(kSmallPool, kSmallBlock, kSmallSeed);
  SHOAL_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  uint8_t key[18] = {0x10};
  {
    SHOAL_ASSIGN_OR_RETURN(auto db, storage::Db::Open(dir.path() + "/db"));
    for (uint64_t i = 0; i < c.get_log;) {
      storage::WriteBatch wb;
      for (uint64_t k = 0; k < c.get_build_batch && i < c.get_log; k++, i++) {
        PutU64BE(key + 10, i);
        wb.Put(ByteView(key, sizeof(key)), pool[i % kSmallPool]);
      }
      SHOAL_RETURN_IF_ERROR(db->Write(wb));
    }
  }
  SHOAL_ASSIGN_OR_RETURN(auto db, storage::Db::Open(dir.path() + "/db"));
  Rng rng(kIndexSeed);
  uint64_t done = 0;
  Bytes value;
  const auto start = Clock::now();
  while (done < c.gets && SecondsSince(start) < kTimeLimitSeconds) {
    PutU64BE(key + 10, rng.Next() % c.get_log);
    SHOAL_RETURN_IF_ERROR(db->Get(ByteView(key, sizeof(key)), &value));
    done++;
  }
  return done / SecondsSince(start);
}

void PrintOpsWithLimit(std::string_view bench, double ops_per_second, double limit) {
  std::printf("{\"bench\":\"%.*s\",\"unit\":\"ops/s\",\"shoal\":%.0f,\"limit\":%.0f}\n",
              static_cast<int>(bench.size()), bench.data(), ops_per_second, limit);
  std::fflush(stdout);
}

// MB/s (10^6 bytes) of 64 KiB blocks appended `large_batch` at a time.
Result<double> AppendLarge(const Counts& c) {
  auto pool = MakeItems(kLargePool, kLargeBlock, kLargeSeed);
  SHOAL_ASSIGN_OR_RETURN(Fixture f, Fixture::Create());
  const uint64_t total = c.large_bytes / kLargeBlock;
  std::vector<ByteView> batch(c.large_batch);
  uint64_t done = 0;
  const auto start = Clock::now();
  while (done < total && SecondsSince(start) < kTimeLimitSeconds) {
    for (uint64_t i = 0; i < c.large_batch; i++) batch[i] = pool[(done + i) % kLargePool];
    SHOAL_RETURN_IF_ERROR(f.log->Append(batch).status());
    done += c.large_batch;
  }
  const double seconds = SecondsSince(start);
  return done * kLargeBlock / seconds / 1e6;
}

// MB/s of the disk under $TMPDIR: `large_bytes` written 64 KiB per write(),
// then one fdatasync, all timed.
Result<double> DiskWrite(const Counts& c) {
  auto pool = MakeItems(kLargePool, kLargeBlock, kLargeSeed);
  SHOAL_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  const std::string path = dir.path() + "/disk";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Status::IOError("open " + path + ": " + std::strerror(errno));
  const uint64_t total = c.large_bytes / kLargeBlock;
  uint64_t done = 0;
  Status status;
  const auto start = Clock::now();
  for (; done < total && SecondsSince(start) < kTimeLimitSeconds; done++) {
    const Bytes& block = pool[done % kLargePool];
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      status = Status::IOError("write " + path + ": " + std::strerror(errno));
      break;
    }
  }
  if (status.ok() && ::fdatasync(fd) != 0) {
    status = Status::IOError("fdatasync " + path + ": " + std::strerror(errno));
  }
  const double seconds = SecondsSince(start);
  ::close(fd);
  SHOAL_RETURN_IF_ERROR(status);
  return done * kLargeBlock / seconds / 1e6;
}

int Run(int argc, char** argv) {
  auto args = ParseArgs(argc, argv, "log_bench");
  if (!args) return 2;
  Counts c;
  auto scaled = [&](uint64_t n, uint64_t unit) { return args->Scaled(n, unit); };
  c.single = scaled(c.single, 1);
  c.batched = scaled(c.batched, c.batch_size);
  c.get_log = scaled(c.get_log, 1);
  c.gets = scaled(c.gets, 1);
  c.large_bytes = scaled(c.large_bytes, kLargeBlock * c.large_batch);

  auto wanted = [&](std::string_view name) { return args->Wants(name); };
  auto fail = [](std::string_view bench, const Status& s) {
    std::fprintf(stderr, "log_bench: %.*s: %s\n", static_cast<int>(bench.size()), bench.data(),
                 s.ToString().c_str());
    return 1;
  };

  // The disk first, before the workloads below leave dirty pages to write back.
  double disk = 0;
  if (wanted("disk.write.seq") || wanted("log.append.64KiB.batch16")) {
    auto r = DiskWrite(c);
    if (!r.ok()) return fail("disk.write.seq", r.status());
    disk = *r;
    std::printf("{\"bench\":\"disk.write.seq\",\"unit\":\"MB/s\",\"shoal\":null,\"limit\":%.1f}\n",
                disk);
    std::fflush(stdout);
  }
  if (wanted("log.append.1KiB.single")) {
    auto r = AppendSingle(c);
    if (!r.ok()) return fail("log.append.1KiB.single", r.status());
    PrintOps("log.append.1KiB.single", *r);
  }
  if (wanted("log.append.1KiB.batch100")) {
    auto r = AppendBatched(c);
    if (!r.ok()) return fail("log.append.1KiB.batch100", r.status());
    auto raw = RawBatchedPuts(c);
    if (!raw.ok()) return fail("log.append.1KiB.batch100", raw.status());
    PrintOpsWithLimit("log.append.1KiB.batch100", *r, *raw);
  }
  if (wanted("log.get.1KiB.random")) {
    auto r = GetRandom(c);
    if (!r.ok()) return fail("log.get.1KiB.random", r.status());
    auto raw = RawRandomGets(c);
    if (!raw.ok()) return fail("log.get.1KiB.random", raw.status());
    std::printf(
        "{\"bench\":\"log.get.1KiB.random\",\"unit\":\"ops/s\",\"shoal\":%.0f,"
        "\"limit\":%.0f,\"tree_hash\":\"%s\"}\n",
        r->ops_per_second, *raw, r->tree_hash.c_str());
    std::fflush(stdout);
  }
  if (wanted("log.append.64KiB.batch16")) {
    auto r = AppendLarge(c);
    if (!r.ok()) return fail("log.append.64KiB.batch16", r.status());
    std::printf(
        "{\"bench\":\"log.append.64KiB.batch16\",\"unit\":\"MB/s\",\"shoal\":%.1f,"
        "\"limit\":%.1f}\n",
        *r, disk);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace shoal::bench

int main(int argc, char** argv) { return shoal::bench::Run(argc, argv); }
