// Pieces the JS sides of the benchmarks share, as bench_util.h does for the
// native sides.
'use strict'

// Marsaglia's xorshift32, the same generator as bench_util.h, so both sides
// make the same bytes.
function rng (seed) {
  let x = seed >>> 0
  return function next () {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

// Seconds on a monotonic clock.
function now () {
  return Number(process.hrtime.bigint()) / 1e9
}

module.exports = { rng, now }
