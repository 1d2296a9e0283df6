// kv_bench.js: the workloads of kv_bench.cc run against the JS hyperbee, on a
// core of a Corestore on disk, so bench/run-kv can set the two side by side.
//
// Each workload opens a fresh Corestore in its own temporary directory (under
// $TMPDIR, default /tmp), runs, prints one JSON line and deletes the
// directory:
//
//   {"bench":"kv.put.single","unit":"ops/s","peer":"hyperbee 2.27.3","peer_value":N}
//
// Keys (16 bytes), values (100 bytes) and the order of random gets come from
// the same xorshift32 generator and seeds as kv_bench.cc, so both sides store
// the same bytes; after the same batched load both logs have the same tree
// hash, which the lines carry for bench/run-kv to compare.
//
// kv.memory.peak runs first, in a node process of its own (this file with
// --memory-child), which reports its peak resident set
// (process.resourceUsage().maxRSS).
//
// Run from the repository root so that node_modules resolves. Flags:
// --only=PREFIX, --scale=F, as in kv_bench.cc.
'use strict'
const { rng, now } = require('./bench_util.js')

const childProcess = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const Corestore = require('corestore')
const Hyperbee = require('hyperbee')

const PEER = 'hyperbee ' + require('hyperbee/package.json').version

// Loops that measure a rate stop after this long, whatever their count.
const TIME_LIMIT_SECONDS = 10
// Loads that later workloads need whole fail rather than run past this.
const LOAD_TIME_LIMIT_SECONDS = 120

const KEY_SIZE = 16
const VALUE_SIZE = 100
const KEY_SEED = 11
const VALUE_SEED = 12
const ORDER_SEED = 13


function makeItems (count, size, seed) {
  const next = rng(seed)
  const items = new Array(count)
  for (let n = 0; n < count; n++) {
    const item = Buffer.alloc(size)
    for (let i = 0; i < size; i += 4) item.writeUInt32LE(next(), i)
    items[n] = item
  }
  return items
}

// The keys, their values, and the order of the random gets, as kv_bench.cc
// makes them.
function makeData (c) {
  const keys = makeItems(c.keys, KEY_SIZE, KEY_SEED)
  const values = makeItems(c.keys, VALUE_SIZE, VALUE_SEED)
  const next = rng(ORDER_SEED)
  const order = new Array(c.gets)
  for (let i = 0; i < c.gets; i++) order[i] = next() % c.keys
  return { keys, values, order }
}


// A fresh corestore in its own temporary directory, with a hyperbee on one core.
async function createFixture () {
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'hyperbee-bench-'))
  const fixture = { dir, store: null, core: null, bee: null }
  await openFixture(fixture)
  return fixture
}

async function openFixture (fixture) {
  fixture.store = new Corestore(path.join(fixture.dir, 'db'))
  fixture.core = fixture.store.get({ name: 'bench' })
  fixture.bee = new Hyperbee(fixture.core)
  await fixture.bee.ready()
}

async function closeFixture (fixture) {
  if (fixture.bee) await fixture.bee.close()
  if (fixture.core) await fixture.core.close()
  if (fixture.store) await fixture.store.close()
  fixture.bee = null
  fixture.core = null
  fixture.store = null
}

// Closes and reopens the corestore, as kv_bench.cc does before its reads.
async function reopenFixture (fixture) {
  await closeFixture(fixture)
  await openFixture(fixture)
}

async function withFixture (fn) {
  const fixture = await createFixture()
  try {
    return await fn(fixture)
  } finally {
    await closeFixture(fixture)
    fs.rmSync(fixture.dir, { recursive: true, force: true })
  }
}

// Loads every key, `batch` puts per bee.batch(). Returns the keys loaded (all
// of them unless `timeLimit` ran out).
async function loadBatched (bee, d, c, timeLimit) {
  let done = 0
  const start = now()
  while (done < c.keys && now() - start < timeLimit) {
    const end = Math.min(done + c.batch, c.keys)
    const b = bee.batch()
    for (let i = done; i < end; i++) await b.put(d.keys[i], d.values[i])
    await b.flush()
    done = end
  }
  return done
}

async function loadAll (bee, d, c) {
  const done = await loadBatched(bee, d, c, LOAD_TIME_LIMIT_SECONDS)
  if (done !== c.keys) throw new Error('loaded only ' + done + ' keys in ' + LOAD_TIME_LIMIT_SECONDS + ' s')
}

function checkGot (node, d, i) {
  if (!node) throw new Error('key ' + i + ' is missing')
  if (!node.key.equals(d.keys[i]) || !node.value.equals(d.values[i])) {
    throw new Error('key ' + i + ' came back different')
  }
}

// Puts per second, one awaited put per call, keys in random order.
function putSingle (d, c) {
  return withFixture(async ({ bee, core }) => {
    let done = 0
    const start = now()
    while (done < c.keys && now() - start < TIME_LIMIT_SECONDS) {
      await bee.put(d.keys[done], d.values[done])
      done++
    }
    const seconds = now() - start
    // One block per put, after the header.
    if (core.length !== done + 1) throw new Error('core length differs from the puts')
    return done / seconds
  })
}

// Puts per second when every key goes in `batch` per bee.batch().
function putBatched (d, c) {
  return withFixture(async ({ bee, core }) => {
    const start = now()
    const done = await loadBatched(bee, d, c, LOAD_TIME_LIMIT_SECONDS)
    const seconds = now() - start
    if (core.length !== done + 1) throw new Error('core length differs from the puts')
    checkGot(await bee.get(d.keys[done - 1]), d, done - 1)
    const treeHash = (await core.treeHash()).toString('hex')
    return { opsPerSecond: done / seconds, treeHash }
  })
}

// Random gets per second over a reopened database of every key.
function getRandom (d, c) {
  return withFixture(async (fixture) => {
    await loadAll(fixture.bee, d, c)
    await reopenFixture(fixture)
    const bee = fixture.bee
    let done = 0
    let found = 0
    const start = now()
    while (done < c.gets && now() - start < TIME_LIMIT_SECONDS) {
      const node = await bee.get(d.keys[d.order[done]])
      if (node && node.value.byteLength === VALUE_SIZE) found++
      done++
    }
    const seconds = now() - start
    if (found !== done) throw new Error('a get missed its key or value')
    // Outside the timed loop: the values read are the values written.
    for (let i = 0; i < Math.min(done, 1000); i++) {
      checkGot(await bee.get(d.keys[d.order[i]]), d, d.order[i])
    }
    const treeHash = (await fixture.core.treeHash()).toString('hex')
    return { opsPerSecond: done / seconds, treeHash }
  })
}

// Keys per second of one read stream over the whole reopened database.
function scan (d, c) {
  return withFixture(async (fixture) => {
    await loadAll(fixture.bee, d, c)
    await reopenFixture(fixture)
    const entries = []
    const start = now()
    for await (const node of fixture.bee.createReadStream()) {
      entries.push(node)
      if (entries.length > c.keys) break
    }
    const seconds = now() - start
    // Every key, in order, with its value.
    const sorted = d.keys.map((_, i) => i).sort((a, b) => Buffer.compare(d.keys[a], d.keys[b]))
    if (entries.length !== sorted.length) {
      throw new Error('the scan returned ' + entries.length + ' keys')
    }
    for (let i = 0; i < entries.length; i++) {
      const k = sorted[i]
      if (!entries[i].key.equals(d.keys[k]) || !entries[i].value.equals(d.values[k])) {
        throw new Error('scan entry ' + i + ' is not the expected one')
      }
    }
    const treeHash = (await fixture.core.treeHash()).toString('hex')
    return { keysPerSecond: entries.length / seconds, keys: entries.length, treeHash }
  })
}

// The memory workload, in the child process: batched load of every key,
// reopen, every random get. Prints the process's peak resident set in KiB.
async function memoryChild (c) {
  const d = makeData(c)
  await withFixture(async (fixture) => {
    await loadAll(fixture.bee, d, c)
    await reopenFixture(fixture)
    for (let i = 0; i < c.gets; i++) {
      if (!(await fixture.bee.get(d.keys[d.order[i]]))) throw new Error('a get missed its key')
    }
  })
  process.stdout.write(JSON.stringify({ max_rss_kib: process.resourceUsage().maxRSS }) + '\n')
}

// Peak resident set, in MB (10^6 bytes), of a node process running only the
// memory workload.
function peakMemory (scale) {
  const r = childProcess.spawnSync(process.execPath, [__filename, '--memory-child', '--scale=' + scale], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 10 * 60 * 1000
  })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error('the memory child failed (' + (r.signal || 'exit ' + r.status) + ')')
  const { max_rss_kib: kib } = JSON.parse(r.stdout.trim().split('\n').pop())
  return kib * 1024 / 1e6
}

function print (bench, unit, value, extra = {}) {
  const line = { bench, unit, peer: PEER, peer_value: value, ...extra }
  process.stdout.write(JSON.stringify(line) + '\n')
}

function parseArgs (argv) {
  let only = ''
  let scale = 1
  let memoryChild = false
  for (const arg of argv) {
    if (arg.startsWith('--only=')) only = arg.slice(7)
    else if (arg.startsWith('--scale=')) scale = Number(arg.slice(8))
    else if (arg === '--memory-child') memoryChild = true
    else throw new Error('usage: kv_bench.js [--only=PREFIX] [--scale=F]')
  }
  if (!(scale > 0)) throw new Error('--scale must be positive')
  return { only, scale, memoryChild }
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const c = { keys: 100000, batch: 1000, gets: 100000 }
  const scaled = (n, unit) => Math.max(Math.floor(Math.floor(n * args.scale) / unit) * unit, unit)
  c.keys = scaled(c.keys, c.batch)
  c.gets = scaled(c.gets, 1)

  if (args.memoryChild) return memoryChild(c)

  const wanted = (name) => name.startsWith(args.only)
  // First, while this process is still small.
  if (wanted('kv.memory.peak')) {
    print('kv.memory.peak', 'MB', Math.round(peakMemory(args.scale) * 10) / 10)
  }
  if (!['kv.put.single', 'kv.put.batch1000', 'kv.get.random', 'kv.scan'].some(wanted)) return
  const d = makeData(c)
  if (wanted('kv.put.single')) {
    print('kv.put.single', 'ops/s', Math.round(await putSingle(d, c)))
  }
  if (wanted('kv.put.batch1000')) {
    const r = await putBatched(d, c)
    print('kv.put.batch1000', 'ops/s', Math.round(r.opsPerSecond), { tree_hash: r.treeHash })
  }
  if (wanted('kv.get.random')) {
    const r = await getRandom(d, c)
    print('kv.get.random', 'ops/s', Math.round(r.opsPerSecond), { tree_hash: r.treeHash })
  }
  if (wanted('kv.scan')) {
    const r = await scan(d, c)
    print('kv.scan', 'keys/s', Math.round(r.keysPerSecond), { keys: r.keys, tree_hash: r.treeHash })
  }
}

main().catch((err) => {
  process.stderr.write('kv_bench.js: ' + (err && err.stack ? err.stack : err) + '\n')
  process.exit(1)
})
