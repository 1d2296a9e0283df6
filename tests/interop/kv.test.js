// Interop between Shoal's database and the JS hyperbee 2.27.3: the same
// operations on the same seed and name write the same log, byte for byte, and
// a database written by either side reads the same on the other, including
// old versions.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const Corestore = require('corestore')
const Hyperbee = require('hyperbee')
const c = require('compact-encoding')
const messages = require('hypercore/lib/messages.js')
const shoal = require('../shoal.js')

function randomOps (n, keys = 60) {
  const ops = []
  for (let i = 0; i < n; i++) {
    const key = 'key-' + String(Math.floor(Math.random() * keys)).padStart(3, '0')
    if (Math.random() < 0.3) ops.push({ del: true, key })
    else ops.push({ key, value: 'v' + Math.floor(Math.random() * 1000) })
  }
  return ops
}

function info (home, name) {
  return JSON.parse(shoal.ok(home, ['log', 'info', name, '--json']))
}

async function entries (bee, opts) {
  const out = []
  for await (const e of bee.createReadStream(opts)) {
    out.push({ seq: e.seq, key: e.key.toString(), value: e.value.toString() })
  }
  return out
}

test('the same operations write the same log in Shoal and in JS hyperbee', async () => {
  const seed = crypto.randomBytes(32)
  const home = shoal.tempHome()
  shoal.ok(home, ['init', '--seed', seed.toString('hex')])
  const dir = shoal.tempHome()
  const store = new Corestore(dir, { primaryKey: seed, unsafe: true })
  try {
    const core = store.get({ name: 'db' })
    const bee = new Hyperbee(core)
    await bee.ready()
    // Enough operations on few enough keys for splits, borrows and merges.
    const ops = randomOps(400, 80)
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]
      if (op.del) {
        await bee.del(op.key)
        shoal.ok(home, ['kv', 'del', 'db', op.key])
      } else {
        await bee.put(op.key, op.value)
        shoal.ok(home, ['kv', 'put', 'db', op.key, op.value])
      }
      if (i % 40 === 39 || i === ops.length - 1) {
        const mine = info(home, 'db')
        assert.equal(mine.length, core.length, 'length after op ' + i)
        assert.equal(mine.treeHash, (await core.treeHash()).toString('hex'), 'tree after op ' + i)
      }
    }
    assert.deepEqual(JSON.parse(shoal.ok(home, ['kv', 'ls', 'db', '--json'])), await entries(bee))
    // Old versions and diffs between them read the same on both sides.
    let prev = 1
    for (let v = 25; v <= core.length; v += 37) {
      const snap = bee.checkout(v)
      assert.deepEqual(JSON.parse(shoal.ok(home, ['kv', 'ls', 'db', '--json', '--version', String(v)])),
        await entries(snap), 'version ' + v)
      const want = []
      for await (const d of snap.createDiffStream(prev)) {
        const e = d.left || d.right
        want.push({
          key: e.key.toString(),
          before: d.right && { seq: d.right.seq, value: d.right.value.toString() },
          after: d.left && { seq: d.left.seq, value: d.left.value.toString() }
        })
      }
      await snap.close()
      assert.deepEqual(JSON.parse(shoal.ok(home, ['kv', 'diff', 'db', String(prev), String(v), '--json'])),
        want, `diff ${prev} -> ${v}`)
      prev = v
    }
  } finally {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  }
})

test('a database written by JS reads the same in Shoal, old versions too', async () => {
  const home = shoal.tempHome()
  const dir = shoal.tempHome()
  const store = new Corestore(dir)
  try {
    const core = store.get({ name: 'js' })
    const bee = new Hyperbee(core)
    await bee.ready()
    const ops = randomOps(250, 50)
    const versions = []
    for (const op of ops) {
      if (op.del) await bee.del(op.key)
      else await bee.put(op.key, op.value)
      if (Math.random() < 0.05) versions.push(bee.version)
    }
    // Move the log into Shoal through proofs: the signed length, then blocks.
    const key = core.key.toString('hex')
    const lines = []
    for (let i = 0; i < core.length; i++) {
      const p = await core.proof({ block: { index: i, nodes: 0 }, upgrade: { start: 0, length: core.length } })
      if (i === 0) p.manifest = core.manifest
      lines.push(c.encode(messages.wire.data, { request: 0, ...p }).toString('hex'))
    }
    shoal.ok(home, ['log', 'apply', key], { input: lines.join('\n') + '\n' })
    assert.deepEqual(JSON.parse(shoal.ok(home, ['kv', 'ls', key, '--json'])), await entries(bee))
    for (const v of versions) {
      const snap = bee.checkout(v)
      assert.deepEqual(JSON.parse(shoal.ok(home, ['kv', 'ls', key, '--json', '--version', String(v)])),
        await entries(snap), 'version ' + v)
      await snap.close()
    }
    const ranges = [{ gte: 'key-010', lt: 'key-030' }, { gt: 'key-020', reverse: true, limit: 5 },
      { lte: 'key-015' }, { gt: 'key-040', lte: 'key-045', reverse: true }]
    for (const r of ranges) {
      const args = ['kv', 'ls', key, '--json']
      const opts = {}
      for (const k of ['gt', 'gte', 'lt', 'lte']) {
        if (r[k]) {
          args.push('--' + k, r[k])
          opts[k] = Buffer.from(r[k])
        }
      }
      if (r.reverse) args.push('--reverse')
      if (r.limit) args.push('--limit', String(r.limit))
      opts.reverse = !!r.reverse
      if (r.limit) opts.limit = r.limit
      assert.deepEqual(JSON.parse(shoal.ok(home, args)), await entries(bee, opts))
    }
    // Diffs between versions match hyperbee's createDiffStream.
    const all = [...versions, bee.version]
    for (let k = 0; k + 1 < all.length; k++) {
      const [from, to] = [all[k], all[k + 1]]
      const want = []
      const snap = bee.checkout(to)
      for await (const d of snap.createDiffStream(from)) {
        const e = d.left || d.right
        want.push({
          key: e.key.toString(),
          before: d.right && { seq: d.right.seq, value: d.right.value.toString() },
          after: d.left && { seq: d.left.seq, value: d.left.value.toString() }
        })
      }
      await snap.close()
      const got = JSON.parse(shoal.ok(home, ['kv', 'diff', key, String(from), String(to), '--json']))
      assert.deepEqual(got, want, `diff ${from} -> ${to}`)
    }
    // The copy is read-only.
    assert.notEqual(shoal.run(home, ['kv', 'put', key, 'a', 'b']).code, 0)
  } finally {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  }
})

test('a database written by Shoal reads the same in JS hyperbee', async () => {
  const home = shoal.tempHome()
  const ops = randomOps(200, 40)
  for (const op of ops) {
    if (op.del) shoal.ok(home, ['kv', 'del', 'shoal', op.key])
    else shoal.ok(home, ['kv', 'put', 'shoal', op.key, op.value])
  }
  const mine = info(home, 'shoal')
  const dir = shoal.tempHome()
  const store = new Corestore(dir)
  try {
    const core = store.get({ key: Buffer.from(mine.key, 'hex') })
    await core.ready()
    for (let i = 0; i < mine.length; i++) {
      const args = ['log', 'proof', 'shoal', '--block', String(i), '--upgrade', '0:' + mine.length]
      if (i === 0) args.push('--manifest')
      const p = c.decode(messages.wire.data, Buffer.from(shoal.ok(home, args).trim(), 'hex'))
      assert.ok(await core.applyProof(p))
    }
    const bee = new Hyperbee(core)
    await bee.ready()
    assert.deepEqual(await entries(bee), JSON.parse(shoal.ok(home, ['kv', 'ls', 'shoal', '--json'])))
    const v = Math.floor(mine.length / 2)
    const snap = bee.checkout(v)
    assert.deepEqual(await entries(snap), JSON.parse(shoal.ok(home, ['kv', 'ls', 'shoal', '--json', '--version', String(v)])))
    await snap.close()
  } finally {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }

  // Compacted, the database still reads in JS from only the blocks it kept.
  assert.match(shoal.ok(home, ['kv', 'compact', 'shoal']), /^cleared \d+ blocks/)
  const present = shoal.ok(home, ['log', 'dump', 'shoal']).trim().split('\n').map((l) => l !== '-')
  assert.ok(present.filter((p) => !p).length > 0)
  const dir2 = shoal.tempHome()
  const store2 = new Corestore(dir2)
  try {
    const core = store2.get({ key: Buffer.from(mine.key, 'hex') })
    await core.ready()
    for (let i = 0; i < mine.length; i++) {
      if (!present[i]) continue
      const args = ['log', 'proof', 'shoal', '--block', String(i), '--upgrade', '0:' + mine.length]
      if (i === 0) args.push('--manifest')
      const p = c.decode(messages.wire.data, Buffer.from(shoal.ok(home, args).trim(), 'hex'))
      assert.ok(await core.applyProof(p))
    }
    const bee = new Hyperbee(core)
    await bee.ready()
    assert.deepEqual(await entries(bee), JSON.parse(shoal.ok(home, ['kv', 'ls', 'shoal', '--json'])))
  } finally {
    await store2.close()
    fs.rmSync(dir2, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  }
})

test('batches write the same blocks as hyperbee batch() and are atomic', async () => {
  const seed = crypto.randomBytes(32)
  const home = shoal.tempHome()
  shoal.ok(home, ['init', '--seed', seed.toString('hex')])
  const dir = shoal.tempHome()
  const store = new Corestore(dir, { primaryKey: seed, unsafe: true })
  try {
    const core = store.get({ name: 'db' })
    const bee = new Hyperbee(core)
    await bee.ready()
    for (let round = 0; round < 12; round++) {
      const ops = randomOps(1 + Math.floor(Math.random() * 60), 70)
      const b = bee.batch()
      for (const op of ops) {
        if (op.del) await b.del(op.key)
        else await b.put(op.key, op.value)
      }
      await b.flush()
      const input = ops.map((op) => op.del ? `del\t${op.key}` : `put\t${op.key}\t${op.value}`).join('\n') + '\n'
      shoal.ok(home, ['kv', 'batch', 'db'], { input })
      const mine = info(home, 'db')
      assert.equal(mine.length, core.length, 'length after batch ' + round)
      assert.equal(mine.treeHash, (await core.treeHash()).toString('hex'), 'tree after batch ' + round)
    }
    assert.deepEqual(JSON.parse(shoal.ok(home, ['kv', 'ls', 'db', '--json'])), await entries(bee))
    // A batch with a bad line changes nothing.
    const before = info(home, 'db').length
    assert.notEqual(shoal.run(home, ['kv', 'batch', 'db'], { input: 'put\ta\t1\nbogus\n' }).code, 0)
    assert.equal(info(home, 'db').length, before)
  } finally {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  }
})
