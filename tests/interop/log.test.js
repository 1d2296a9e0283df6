// Interop between Shoal's log and the JS hypercore 11 / corestore 7 stack:
// the same seed and name give the same key, discovery key, tree hash and
// signature bytes, and proofs made by either side verify on the other.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const Corestore = require('corestore')
const c = require('compact-encoding')
const messages = require('hypercore/lib/messages.js')
const shoal = require('../shoal.js')

function randomBlocks (n, max = 200) {
  const out = []
  for (let i = 0; i < n; i++) out.push(crypto.randomBytes(Math.floor(Math.random() * max)))
  return out
}

async function withStore (fn, opts = {}) {
  const dir = shoal.tempHome()
  const store = new Corestore(dir, opts)
  try {
    return await fn(store)
  } finally {
    await store.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

function info (home, name) {
  return JSON.parse(shoal.ok(home, ['log', 'info', name, '--json']))
}

test('same seed and name give the same key, tree hash and signatures', async () => {
  const seed = crypto.randomBytes(32)
  const home = shoal.tempHome()
  shoal.ok(home, ['init', '--seed', seed.toString('hex')])
  await withStore(async (store) => {
    for (const name of ['alpha', 'photos/2026', 'ünïcode ✓']) {
      const core = store.get({ name })
      await core.ready()
      // Appends of 1, 3, 1, 10, 1 and 40 blocks: one signature per call.
      for (const n of [1, 3, 1, 10, 1, 40]) {
        const blocks = randomBlocks(n)
        await core.append(n === 1 ? blocks[0] : blocks)
        const printed = shoal.ok(home, ['log', 'append', name, '--hex', ...blocks.map((b) => b.toString('hex'))])
        assert.equal(Number(printed), core.length)
        const mine = info(home, name)
        assert.equal(mine.key, core.key.toString('hex'))
        assert.equal(mine.discoveryKey, core.discoveryKey.toString('hex'))
        assert.equal(mine.length, core.length)
        assert.equal(mine.byteLength, core.byteLength)
        assert.equal(mine.fork, core.fork)
        assert.equal(mine.treeHash, (await core.treeHash()).toString('hex'))
        assert.equal(mine.signature, core.core.state.signature.toString('hex'))
      }
      // Truncation bumps the fork the same way and signs the same bytes.
      await core.truncate(core.length - 7)
      shoal.ok(home, ['log', 'truncate', name, String(core.length)])
      const mine = info(home, name)
      assert.equal(mine.fork, core.fork)
      assert.equal(mine.treeHash, (await core.treeHash()).toString('hex'))
      assert.equal(mine.signature, core.core.state.signature.toString('hex'))
    }
  }, { primaryKey: seed, unsafe: true })
  fs.rmSync(home, { recursive: true, force: true })
})

test('proofs made by Shoal verify in JS hypercore, sparse and whole', async () => {
  const home = shoal.tempHome()
  const blocks = randomBlocks(37, 3000)
  shoal.ok(home, ['log', 'append', 'src', '--hex', ...blocks.map((b) => b.toString('hex'))])
  const key = info(home, 'src').key
  await withStore(async (store) => {
    const core = store.get({ key: Buffer.from(key, 'hex') })
    await core.ready()
    // First proof: block 5 with the signed upgrade to 37 and the manifest.
    const first = shoal.ok(home, ['log', 'proof', 'src', '--block', '5', '--upgrade', '0:37', '--manifest']).trim()
    const proof = c.decode(messages.wire.data, Buffer.from(first, 'hex'))
    assert.ok(await core.applyProof(proof))
    assert.equal(core.length, 37)
    assert.deepEqual(await core.get(5, { wait: false }), blocks[5])
    // Then every other block, sparse, asking only for the nodes JS lacks.
    for (const i of [36, 0, 17, 16, 31, 32, 1, 2, 3, 4, 20]) {
      const nodes = await core.missingNodes(i)
      const hex = shoal.ok(home, ['log', 'proof', 'src', '--block', String(i), '--nodes', String(nodes)]).trim()
      const p = c.decode(messages.wire.data, Buffer.from(hex, 'hex'))
      assert.ok(await core.applyProof(p), 'block ' + i)
      assert.deepEqual(await core.get(i, { wait: false }), blocks[i])
    }
    // A tampered proof is refused and stores nothing.
    const hex = shoal.ok(home, ['log', 'proof', 'src', '--block', '9', '--nodes', String(await core.missingNodes(9))]).trim()
    const bad = c.decode(messages.wire.data, Buffer.from(hex, 'hex'))
    bad.block.value[0] ^= 1
    let refused = false
    try {
      refused = !(await core.applyProof(bad))
    } catch {
      refused = true
    }
    assert.ok(refused)
    assert.equal(await core.has(9), false)
  })
  fs.rmSync(home, { recursive: true, force: true })
})

test('proofs made by JS hypercore verify in Shoal', async () => {
  const home = shoal.tempHome()
  const blocks = randomBlocks(50, 2000)
  await withStore(async (store) => {
    const core = store.get({ name: 'js' })
    await core.append(blocks.slice(0, 20))
    await core.append(blocks.slice(20))
    const key = core.key.toString('hex')
    const encode = (p) => c.encode(messages.wire.data, { request: 0, ...p }).toString('hex')

    const p0 = await core.proof({ block: { index: 7, nodes: 0 }, upgrade: { start: 0, length: 50 } })
    p0.manifest = core.manifest
    assert.equal(shoal.ok(home, ['log', 'apply', key, encode(p0)]).trim(), '50')
    assert.deepEqual(shoal.ok(home, ['log', 'get', key, '7']), blocks[7].toString())
    const mine = info(home, key)
    assert.equal(mine.treeHash, (await core.treeHash()).toString('hex'))
    assert.equal(mine.signature, core.core.state.signature.toString('hex'))
    assert.equal(mine.writable, false)

    // More blocks, each proved up to the root; several proofs per call (stdin).
    const lines = []
    for (const i of [0, 49, 25, 8, 33]) {
      const p = await core.proof({ block: { index: i, nodes: 0 }, upgrade: { start: 0, length: 50 } })
      lines.push(encode(p))
    }
    shoal.ok(home, ['log', 'apply', key], { input: lines.join('\n') + '\n' })
    for (const i of [0, 49, 25, 8, 33]) {
      assert.equal(shoal.ok(home, ['log', 'get', key, String(i)]), blocks[i].toString())
    }
    // Writing to the copy is refused: Shoal cannot sign someone else's log.
    const w = shoal.run(home, ['log', 'append', key, 'x'])
    assert.notEqual(w.code, 0)

    // JS appends more; Shoal follows with an upgrade from 50 to 60.
    await core.append(randomBlocks(10))
    const up = await core.proof({ block: { index: 59, nodes: 0 }, upgrade: { start: 50, length: 10 } })
    assert.equal(shoal.ok(home, ['log', 'apply', key, encode(up)]).trim(), '60')
    assert.equal(info(home, key).treeHash, (await core.treeHash()).toString('hex'))

    // A proof with a flipped signature or a wrong node is refused.
    await core.append(randomBlocks(5))
    const bad = await core.proof({ upgrade: { start: 60, length: 5 } })
    bad.upgrade.signature[20] ^= 1
    const r1 = shoal.run(home, ['log', 'apply', key, encode(bad)])
    assert.notEqual(r1.code, 0)
    assert.match(r1.stderr, /signature/)
    const bad2 = await core.proof({ upgrade: { start: 60, length: 5 } })
    bad2.upgrade.nodes[0].hash[3] ^= 1
    assert.notEqual(shoal.run(home, ['log', 'apply', key, encode(bad2)]).code, 0)
    assert.equal(info(home, key).length, 60)
    // The replica audits clean.
    shoal.ok(home, ['log', 'verify', key])
  })
  fs.rmSync(home, { recursive: true, force: true })
})

test('a compat-mode JS core (key = public key, raw signatures) verifies in Shoal', async () => {
  const Hypercore = require('hypercore')
  const home = shoal.tempHome()
  const dir = shoal.tempHome()
  const core = new Hypercore(dir, { compat: true })
  try {
    await core.ready()
    assert.deepEqual(core.key, core.keyPair.publicKey)
    const blocks = randomBlocks(9)
    await core.append(blocks)
    const p = await core.proof({ block: { index: 4, nodes: 0 }, upgrade: { start: 0, length: 9 } })
    p.manifest = core.manifest
    assert.equal(p.upgrade.signature.length, 64)
    const key = core.key.toString('hex')
    shoal.ok(home, ['log', 'apply', key, c.encode(messages.wire.data, { request: 0, ...p }).toString('hex')])
    // A new process reopens the copy and checks it from its signature.
    assert.match(shoal.ok(home, ['log', 'verify', key]), /^ok 9 blocks/)
    assert.deepEqual(shoal.run(home, ['log', 'get', key, '4']).stdout, blocks[4])
    assert.equal(info(home, key).treeHash, (await core.treeHash()).toString('hex'))
  } finally {
    await core.close()
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  }
})
