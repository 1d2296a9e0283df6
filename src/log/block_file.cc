#include "log/block_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace shoal::log {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  int e = errno;
  std::string msg = what + " " + path + ": " + std::strerror(e);
  return e == ENOSPC ? Status::IOError("disk full: " + msg) : Status::IOError(msg);
}

}  // namespace

Result<std::unique_ptr<BlockFile>> BlockFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("creating", path);
    // Make the new name itself durable, or a power loss could lose the file
    // while the database that refers to it survives.
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool synced = dfd >= 0 && ::fsync(dfd) == 0;
    if (dfd >= 0) ::close(dfd);
    if (!synced) {
      Status s = Errno("syncing the directory of", path);
      ::close(fd);
      return s;
    }
  }
  if (fd < 0) return Errno("opening", path);
  return std::unique_ptr<BlockFile>(new BlockFile(fd, path));
}

BlockFile::~BlockFile() { ::close(fd_); }

Status BlockFile::Write(uint64_t offset, std::span<const ByteView> parts) {
  std::vector<iovec> iov;
  iov.reserve(parts.size());
  size_t i = 0;
  while (i < parts.size()) {
    iov.clear();
    uint64_t chunk = 0;
    for (; i < parts.size() && iov.size() < IOV_MAX; i++) {
      if (parts[i].empty()) continue;
      iov.push_back({const_cast<uint8_t*>(parts[i].data()), parts[i].size()});
      chunk += parts[i].size();
    }
    size_t first = 0;
    while (chunk > 0) {
      ssize_t n = ::pwritev(fd_, iov.data() + first, static_cast<int>(iov.size() - first),
                            static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("writing", path_);
      }
      offset += n;
      chunk -= n;
      // Skip what was written; a short write resumes mid-buffer.
      size_t left = static_cast<size_t>(n);
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (left > 0) {
        iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
  }
  return Status::OK();
}

Status BlockFile::Read(uint64_t offset, uint64_t size, Bytes* out) const {
  out->resize(size);
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd_, out->data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("reading", path_);
    }
    if (n == 0) return Status::Corruption("blocks file " + path_ + " ends before the log does");
    done += n;
  }
  return Status::OK();
}

Status BlockFile::PunchHole(uint64_t offset, uint64_t size) {
  if (size == 0) return Status::OK();
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(size)) != 0) {
    if (errno == EOPNOTSUPP) return Status::OK();  // the filesystem cannot: keep the bytes
    return Errno("freeing space in", path_);
  }
  return Status::OK();
}

Status BlockFile::Truncate(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return Errno("truncating", path_);
  return Status::OK();
}

Result<uint64_t> BlockFile::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Errno("stat", path_);
  return static_cast<uint64_t>(st.st_size);
}

Status BlockFile::Sync() {
  if (::fdatasync(fd_) != 0) return Errno("syncing", path_);
  return Status::OK();
}

}  // namespace shoal::log
