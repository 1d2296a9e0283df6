// log_bench.js: the workloads of log_bench.cc run against the JS Hypercore,
// through Corestore on disk, so bench/run can set the two side by side.
//
// Each workload opens a fresh Corestore in its own temporary directory (under
// $TMPDIR, default /tmp), runs a loop bounded in both count and time, prints
// one JSON line and deletes the directory:
//
//   {"bench":"log.append.1KiB.single","unit":"ops/s","peer":"hypercore 11.37.1","peer_value":N}
//
// Block contents and the order of random reads come from the same xorshift32
// generator and seeds as log_bench.cc. Run from the repository root so that
// node_modules resolves. Flags: --only=PREFIX, --scale=F, as in log_bench.cc.
'use strict'
const { rng, now } = require('./bench_util.js')

const fs = require('fs')
const os = require('os')
const path = require('path')
const Corestore = require('corestore')

const PEER = 'hypercore ' + require('hypercore/package.json').version

// Every measured loop stops after this long, whatever its count.
const TIME_LIMIT_SECONDS = 10

const SMALL_BLOCK = 1024
const SMALL_POOL = 4096
const LARGE_BLOCK = 64 * 1024
const LARGE_POOL = 64
const SMALL_SEED = 1
const INDEX_SEED = 2
const LARGE_SEED = 3


// `count` distinct blocks of `size` bytes, filled with little-endian words.
function makePool (count, size, seed) {
  const next = rng(seed)
  const pool = []
  for (let b = 0; b < count; b++) {
    const block = Buffer.alloc(size)
    for (let i = 0; i < size; i += 4) block.writeUInt32LE(next(), i)
    pool.push(block)
  }
  return pool
}


// A fresh corestore in its own temporary directory with one writable core.
async function createFixture () {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'hypercore-bench-'))
  const fixture = { dir, store: null, core: null }
  await openFixture(fixture)
  return fixture
}

async function openFixture (fixture) {
  fixture.store = new Corestore(path.join(fixture.dir, 'db'))
  fixture.core = fixture.store.get({ name: 'bench' })
  await fixture.core.ready()
}

async function closeFixture (fixture) {
  if (fixture.core) await fixture.core.close()
  if (fixture.store) await fixture.store.close()
  fixture.core = null
  fixture.store = null
}

// Closes and reopens the corestore, as log_bench.cc does before its reads.
async function reopenFixture (fixture) {
  await closeFixture(fixture)
  await openFixture(fixture)
}

async function destroyFixture (fixture) {
  await closeFixture(fixture)
  fs.rmSync(fixture.dir, { recursive: true, force: true })
}

async function withFixture (fn) {
  const fixture = await createFixture()
  try {
    return await fn(fixture)
  } finally {
    await destroyFixture(fixture)
  }
}

function print (bench, unit, value, extra = {}) {
  const line = { bench, unit, peer: PEER, peer_value: value, ...extra }
  process.stdout.write(JSON.stringify(line) + '\n')
}

// Ops per second of single-block appends.
function appendSingle (c) {
  const pool = makePool(SMALL_POOL, SMALL_BLOCK, SMALL_SEED)
  return withFixture(async ({ core }) => {
    let done = 0
    const start = now()
    while (done < c.single && now() - start < TIME_LIMIT_SECONDS) {
      await core.append(pool[done % SMALL_POOL])
      done++
    }
    const seconds = now() - start
    if (core.length !== done) throw new Error('core length differs from appends')
    return done / seconds
  })
}

// Blocks per second when each call appends `batchSize` blocks.
function appendBatched (c) {
  const pool = makePool(SMALL_POOL, SMALL_BLOCK, SMALL_SEED)
  return withFixture(async ({ core }) => {
    let done = 0
    const start = now()
    while (done < c.batched && now() - start < TIME_LIMIT_SECONDS) {
      const batch = new Array(c.batchSize)
      for (let i = 0; i < c.batchSize; i++) batch[i] = pool[(done + i) % SMALL_POOL]
      await core.append(batch)
      done += c.batchSize
    }
    const seconds = now() - start
    if (core.length !== done) throw new Error('core length differs from appends')
    return done / seconds
  })
}

// Random gets over a reopened core of `getLog` blocks.
function getRandom (c) {
  const pool = makePool(SMALL_POOL, SMALL_BLOCK, SMALL_SEED)
  return withFixture(async (fixture) => {
    for (let i = 0; i < c.getLog;) {
      const batch = []
      for (; batch.length < c.getBuildBatch && i < c.getLog; i++) batch.push(pool[i % SMALL_POOL])
      await fixture.core.append(batch)
    }
    await reopenFixture(fixture)
    const core = fixture.core
    if (core.length !== c.getLog) throw new Error('reopened core has the wrong length')

    const next = rng(INDEX_SEED)
    const order = new Array(c.gets)
    for (let i = 0; i < c.gets; i++) order[i] = next() % c.getLog

    let done = 0
    let bytes = 0
    const start = now()
    while (done < c.gets && now() - start < TIME_LIMIT_SECONDS) {
      const block = await core.get(order[done], { wait: false })
      bytes += block.byteLength
      done++
    }
    const seconds = now() - start
    if (bytes !== done * SMALL_BLOCK) throw new Error('a block came back the wrong size')
    // Outside the timed loop: the blocks read are the blocks written.
    for (let i = 0; i < Math.min(done, 1000); i++) {
      const block = await core.get(order[i], { wait: false })
      if (!block.equals(pool[order[i] % SMALL_POOL])) {
        throw new Error('block ' + order[i] + ' differs from its write')
      }
    }
    const treeHash = (await core.treeHash()).toString('hex')
    return { opsPerSecond: done / seconds, treeHash }
  })
}

// MB/s (10^6 bytes) of 64 KiB blocks appended `largeBatch` at a time.
function appendLarge (c) {
  const pool = makePool(LARGE_POOL, LARGE_BLOCK, LARGE_SEED)
  return withFixture(async ({ core }) => {
    const total = Math.floor(c.largeBytes / LARGE_BLOCK)
    let done = 0
    const start = now()
    while (done < total && now() - start < TIME_LIMIT_SECONDS) {
      const batch = new Array(c.largeBatch)
      for (let i = 0; i < c.largeBatch; i++) batch[i] = pool[(done + i) % LARGE_POOL]
      await core.append(batch)
      done += c.largeBatch
    }
    const seconds = now() - start
    return done * LARGE_BLOCK / seconds / 1e6
  })
}

function parseArgs (argv) {
  let only = ''
  let scale = 1
  for (const arg of argv) {
    if (arg.startsWith('--only=')) only = arg.slice(7)
    else if (arg.startsWith('--scale=')) scale = Number(arg.slice(8))
    else throw new Error('usage: log_bench.js [--only=PREFIX] [--scale=F]')
  }
  if (!(scale > 0)) throw new Error('--scale must be positive')
  return { only, scale }
}

async function main () {
  const { only, scale } = parseArgs(process.argv.slice(2))
  const c = {
    single: 20000,
    batched: 200000,
    batchSize: 100,
    getLog: 100000,
    getBuildBatch: 1000,
    gets: 200000,
    largeBytes: 100 * 1024 * 1024,
    largeBatch: 16
  }
  const scaled = (n, unit) => Math.max(Math.floor(Math.floor(n * scale) / unit) * unit, unit)
  c.single = scaled(c.single, 1)
  c.batched = scaled(c.batched, c.batchSize)
  c.getLog = scaled(c.getLog, 1)
  c.gets = scaled(c.gets, 1)
  c.largeBytes = scaled(c.largeBytes, LARGE_BLOCK * c.largeBatch)

  const wanted = (name) => name.startsWith(only)
  if (wanted('log.append.1KiB.single')) {
    print('log.append.1KiB.single', 'ops/s', Math.round(await appendSingle(c)))
  }
  if (wanted('log.append.1KiB.batch100')) {
    print('log.append.1KiB.batch100', 'ops/s', Math.round(await appendBatched(c)))
  }
  if (wanted('log.get.1KiB.random')) {
    const r = await getRandom(c)
    print('log.get.1KiB.random', 'ops/s', Math.round(r.opsPerSecond), { tree_hash: r.treeHash })
  }
  if (wanted('log.append.64KiB.batch16')) {
    const mbs = await appendLarge(c)
    print('log.append.64KiB.batch16', 'MB/s', Math.round(mbs * 10) / 10)
  }
}

main().catch((err) => {
  process.stderr.write('log_bench.js: ' + (err && err.stack ? err.stack : err) + '\n')
  process.exit(1)
})
