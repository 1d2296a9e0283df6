#include "storage/db.h"

#include <malloc.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>

namespace shoal::storage {
namespace {

rocksdb::Slice S(ByteView b) {
  return rocksdb::Slice(reinterpret_cast<const char*>(b.data()), b.size());
}
ByteView V(const rocksdb::Slice& s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound(s.ToString());
  if (s.IsCorruption()) return Status::Corruption(s.ToString());
  if (s.IsInvalidArgument()) return Status::InvalidArgument(s.ToString());
  if (s.IsNoSpace()) return Status::IOError("disk full: " + s.ToString());
  if (s.IsIOError() && s.ToString().find("/LOCK") != std::string::npos) {
    return Status::Busy("database is in use by another process: " + s.ToString());
  }
  return Status::IOError(s.ToString());
}

class RocksIterator final : public Iterator {
 public:
  RocksIterator(rocksdb::DB* db, Bytes lower, Bytes upper)
      : lower_(std::move(lower)), upper_(std::move(upper)) {
    lower_slice_ = S(lower_);
    upper_slice_ = S(upper_);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice_;
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro));
  }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Seek(ByteView key) override { it_->Seek(S(key)); }
  bool Valid() const override { return it_->Valid(); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  ByteView key() const override { return V(it_->key()); }
  ByteView value() const override { return V(it_->value()); }
  Status status() const override { return FromRocks(it_->status()); }

 private:
  Bytes lower_, upper_;
  rocksdb::Slice lower_slice_, upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

class RocksDb final : public Db {
 public:
  RocksDb(std::unique_ptr<rocksdb::Env> env, rocksdb::DB* db) : env_(std::move(env)), db_(db) {}
  ~RocksDb() override {
    db_->Close().PermitUncheckedError();
    db_.reset();
  }

  Status Get(ByteView key, Bytes* value) override {
    rocksdb::PinnableSlice slice;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), S(key), &slice);
    if (!s.ok()) return FromRocks(s);
    value->assign(slice.data(), slice.data() + slice.size());
    return Status::OK();
  }

  Status Write(WriteBatch& batch, bool sync) override;

  std::unique_ptr<Iterator> NewIterator(ByteView lower, ByteView upper) override {
    return std::make_unique<RocksIterator>(db_.get(), Bytes(lower.begin(), lower.end()),
                                           Bytes(upper.begin(), upper.end()));
  }

  Status CompactRange(ByteView begin, ByteView end) override {
    rocksdb::CompactRangeOptions opts;
    opts.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    rocksdb::Slice b = S(begin), e = S(end);
    SHOAL_RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions())));
    return FromRocks(db_->CompactRange(opts, &b, &e));
  }

  Status Flush() override {
    SHOAL_RETURN_IF_ERROR(FromRocks(db_->Flush(rocksdb::FlushOptions())));
    return FromRocks(db_->FlushWAL(true));
  }

  uint64_t DiskUsage() override {
    uint64_t sst = 0, wal = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &sst);
    rocksdb::VectorLogPtr files;
    if (db_->GetSortedWalFiles(files).ok()) {
      for (auto& f : files) wal += f->SizeFileBytes();
    }
    return sst + wal;
  }

 private:
  std::unique_ptr<rocksdb::Env> env_;  // outlives db_
  std::unique_ptr<rocksdb::DB> db_;
};

struct WriteBatch::Rep {
  explicit Rep(size_t reserve) : batch(reserve) {}
  rocksdb::WriteBatch batch;
};

WriteBatch::WriteBatch(size_t reserve_bytes) : rep_(std::make_unique<Rep>(reserve_bytes)) {}
WriteBatch::~WriteBatch() = default;
void WriteBatch::Put(ByteView key, ByteView value) {
  rep_->batch.Put(S(key), S(value)).PermitUncheckedError();
}
void WriteBatch::Put(ByteView key, ByteView prefix, ByteView value) {
  rocksdb::Slice k = S(key);
  rocksdb::Slice v[2] = {S(prefix), S(value)};
  rep_->batch.Put(rocksdb::SliceParts(&k, 1), rocksdb::SliceParts(v, 2)).PermitUncheckedError();
}
void WriteBatch::Delete(ByteView key) { rep_->batch.Delete(S(key)).PermitUncheckedError(); }
void WriteBatch::DeleteRange(ByteView begin, ByteView end) {
  rep_->batch.DeleteRange(S(begin), S(end)).PermitUncheckedError();
}
void WriteBatch::Clear() { rep_->batch.Clear(); }
size_t WriteBatch::ByteSize() const { return rep_->batch.GetDataSize(); }
bool WriteBatch::empty() const { return rep_->batch.Count() == 0; }

Status RocksDb::Write(WriteBatch& batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Write(wo, &batch.rep_->batch));
}

// Memtable arenas are allocated in blocks of megabytes. With glibc's defaults
// each block is a fresh mmap whose pages fault in on first write (~10% of an
// append); keeping such blocks on the heap lets the next memtable reuse the
// pages of the last one. Once per process.
void KeepArenaPagesMapped() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return true;
  }();
  (void)done;
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, const Options& options) {
  KeepArenaPagesMapped();
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.write_buffer_size = options.write_buffer_bytes;
  opts.max_background_jobs = 2;
  opts.compression = rocksdb::kNoCompression;
  opts.max_open_files = 512;
  opts.keep_log_file_num = 4;
  opts.max_manifest_file_size = 64 << 20;
  opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.block_size = 16 << 10;
  table.format_version = 5;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::unique_ptr<rocksdb::Env> env;
  if (options.in_memory) {
    env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    opts.env = env.get();
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opts, path, &raw);
  if (!s.ok()) return FromRocks(s).WithContext("opening " + path);
  return std::unique_ptr<Db>(new RocksDb(std::move(env), raw));
}

}  // namespace shoal::storage
