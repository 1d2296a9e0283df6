// Pieces both native benchmarks share: a clock, the deterministic data the JS
// side generates the same way, and a temporary directory.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace shoal::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Marsaglia's xorshift32; log_bench.js and kv_bench.js have the same generator.
class Rng {
 public:
  explicit Rng(uint32_t seed) : x_(seed) {}
  uint32_t Next() {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 17;
    x_ ^= x_ << 5;
    return x_;
  }

 private:
  uint32_t x_;
};

// `count` items of `size` bytes (a multiple of 4), filled with little-endian
// words from Rng(seed).
inline std::vector<Bytes> MakeItems(size_t count, size_t size, uint32_t seed) {
  Rng rng(seed);
  std::vector<Bytes> items(count, Bytes(size));
  for (Bytes& item : items) {
    for (size_t i = 0; i < size; i += 4) {
      uint32_t v = rng.Next();
      for (int b = 0; b < 4; b++) item[i + b] = static_cast<uint8_t>(v >> (8 * b));
    }
  }
  return items;
}

// The flags every native benchmark takes: --only=PREFIX picks the figures
// whose name starts with PREFIX, --scale=F multiplies every count by F.
struct Args {
  std::string only;
  double scale = 1.0;

  bool Wants(std::string_view figure) const { return figure.starts_with(only); }
  // n * scale rounded down to a multiple of `unit`, at least `unit`.
  uint64_t Scaled(uint64_t n, uint64_t unit) const {
    uint64_t v = static_cast<uint64_t>(n * scale) / unit * unit;
    return v > unit ? v : unit;
  }
};

// Parses argv; on a bad flag prints the usage of `program` and returns
// nullopt (the benchmark then exits 2).
inline std::optional<Args> ParseArgs(int argc, char** argv, const char* program) {
  Args a;
  for (int i = 1; i < argc; i++) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--only=")) {
      a.only = arg.substr(7);
    } else if (arg.starts_with("--scale=")) {
      a.scale = std::atof(std::string(arg.substr(8)).c_str());
    } else {
      std::fprintf(stderr, "usage: %s [--only=PREFIX] [--scale=F]\n", program);
      return std::nullopt;
    }
  }
  if (!(a.scale > 0)) {
    std::fprintf(stderr, "%s: --scale must be positive\n", program);
    return std::nullopt;
  }
  return a;
}

// A directory removed with everything in it when this goes out of scope.
class TempDir {
 public:
  static Result<TempDir> Create() {
    const char* base = std::getenv("TMPDIR");
    std::string path = std::string(base && *base ? base : "/tmp") + "/shoal-bench-XXXXXX";
    if (mkdtemp(path.data()) == nullptr) {
      return Status::IOError("mkdtemp " + path + ": " + std::strerror(errno));
    }
    return TempDir(path);
  }
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace shoal::bench
