// Replication between `shoal serve` and the JS hypercore 11 / corestore 7
// stack over real TCP sockets on loopback: secret-stream, protomux and the
// hypercore channel, both directions, whole and sparse, live, and a Hyperbee
// written by Shoal read by a JS hyperbee over the connection.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const Corestore = require('corestore')
const Hyperbee = require('hyperbee')
const shoal = require('../shoal.js')

const { poll } = shoal

const T = 60000 // per wait

function hostPort (addr) {
  const i = addr.lastIndexOf(':')
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) }
}

// A corestore in a temporary directory, closed and removed by `done`.
function tempStore () {
  const dir = shoal.tempHome()
  const store = new Corestore(dir)
  return {
    store,
    async done () {
      await store.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

// Connects a corestore to a Shoal node's peer port; returns the socket.
function dial (store, addr) {
  const { host, port } = hostPort(addr)
  const socket = net.connect(port, host)
  const stream = store.replicate(true)
  socket.pipe(stream).pipe(socket)
  stream.on('error', () => {})
  socket.on('error', () => {})
  return socket
}

// A corestore that accepts connections on a loopback port.
function listen (store) {
  return new Promise((resolve) => {
    const sockets = new Set()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      const stream = store.replicate(false)
      socket.pipe(stream).pipe(socket)
      stream.on('error', () => {})
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    })
    server.listen(0, '127.0.0.1', () => {
      resolve({
        addr: '127.0.0.1:' + server.address().port,
        close: () => {
          for (const s of sockets) s.destroy()
          return new Promise((resolve) => server.close(resolve))
        }
      })
    })
  })
}

async function withTimeout (promise, what, ms = T) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out: ' + what)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function info (home, nameOrKey) {
  return JSON.parse(shoal.ok(home, ['log', 'info', nameOrKey, '--json']))
}

function blocks (n, seed) {
  const out = []
  for (let i = 0; i < n; i++) out.push(Buffer.from(`${seed} block ${i} ` + 'x'.repeat(i % 300)))
  return out
}

async function withNode (fn) {
  const home = shoal.tempHome()
  const node = await shoal.serve(home)
  try {
    return await fn(home, node)
  } finally {
    node.child.kill('SIGTERM')
    await shoal.waitExit(node.child)
    fs.rmSync(home, { recursive: true, force: true })
  }
}

test('a JS corestore downloads a Shoal log, whole and sparse, and verifies it', async () => {
  await withNode(async (home, node) => {
    const data = blocks(300, 'shoal')
    shoal.ok(home, ['log', 'append', 'photos'], { input: data.map((b) => b.toString()).join('\n') + '\n' })
    const key = info(home, 'photos').key

    // Whole.
    const a = tempStore()
    try {
      const core = a.store.get({ key: Buffer.from(key, 'hex') })
      await core.ready()
      const socket = dial(a.store, node.peer)
      await withTimeout(core.update({ wait: true }), 'update')
      assert.equal(core.length, 300)
      await withTimeout(core.download({ start: 0, end: 300 }).done(), 'download')
      for (let i = 0; i < 300; i++) assert.deepEqual(await core.get(i), data[i])
      assert.equal(core.contiguousLength, 300)
      assert.equal((await core.treeHash()).toString('hex'), info(home, 'photos').treeHash)
      socket.destroy()
    } finally {
      await a.done()
    }

    // Sparse: a fresh store reads three blocks and holds only those.
    const b = tempStore()
    try {
      const core = b.store.get({ key: Buffer.from(key, 'hex') })
      await core.ready()
      const socket = dial(b.store, node.peer)
      for (const i of [7, 150, 299]) assert.deepEqual(await withTimeout(core.get(i), 'get ' + i), data[i])
      assert.equal(await core.has(7), true)
      assert.equal(await core.has(8), false)
      assert.equal(core.contiguousLength, 0)
      socket.destroy()
    } finally {
      await b.done()
    }
  })
})

test('Shoal downloads a JS log, and follows it live', async () => {
  const js = tempStore()
  const server = await listen(js.store)
  try {
    const core = js.store.get({ name: 'js-log' })
    await core.ready()
    const data = blocks(200, 'js')
    await core.append(data)
    const key = core.key.toString('hex')

    // Without a running node: `follow --peer` downloads it all and exits.
    const home = shoal.tempHome()
    try {
      const out = await shoal.okAsync(home, ['follow', key, '--peer', server.addr, '--timeout', '60'])
      assert.match(out, new RegExp(`${key} 200 blocks`))
      const dump = (await shoal.okAsync(home, ['log', 'dump', key])).trim().split('\n')
      assert.deepEqual(dump, data.map((b) => b.toString('hex')))
      assert.equal(info(home, key).treeHash, (await core.treeHash()).toString('hex'))

      // Inside `shoal serve`: the follow resumes, and JS appends arrive live.
      const node = await shoal.serve(home, ['--peer', server.addr])
      try {
        await core.append([Buffer.from('live 1'), Buffer.from('live 2')])
        await poll(async () => JSON.parse(await shoal.okAsync(home, ['log', 'info', key, '--json'])).length === 202,
          'live append reached Shoal')
        assert.equal(await shoal.okAsync(home, ['log', 'get', key, '201']), 'live 2')
        const peers = JSON.parse(await shoal.okAsync(home, ['peers', '--json']))
        assert.equal(peers.running, true)
        const log = peers.logs.find((l) => l.key === key)
        assert.equal(log.following, true)
        assert.equal(log.storedBlocks, 202)
        assert.equal(peers.peers.length, 1)
        assert.equal(peers.peers[0].logs[0].remoteLength, 202)
      } finally {
        node.child.kill('SIGTERM')
        await shoal.waitExit(node.child)
      }
    } finally {
      fs.rmSync(home, { recursive: true, force: true })
    }
  } finally {
    await server.close()
    await js.done()
  }
})

test('appends on a Shoal node reach a connected JS reader live', async () => {
  await withNode(async (home, node) => {
    shoal.ok(home, ['log', 'append', 'feed', 'first'])
    const key = info(home, 'feed').key
    const js = tempStore()
    try {
      const core = js.store.get({ key: Buffer.from(key, 'hex') })
      await core.ready()
      const socket = dial(js.store, node.peer)
      await withTimeout(core.update({ wait: true }), 'update')
      assert.equal(core.length, 1)
      const appended = new Promise((resolve) => core.on('append', () => { if (core.length === 3) resolve() }))
      shoal.ok(home, ['log', 'append', 'feed', 'second', 'third'])
      await withTimeout(appended, 'append event')
      assert.equal((await core.get(2)).toString(), 'third')
      socket.destroy()
    } finally {
      await js.done()
    }
  })
})

test('a JS hyperbee queries a database written by Shoal over the connection', async () => {
  await withNode(async (home, node) => {
    const lines = []
    for (let i = 0; i < 500; i++) lines.push(`put\tkey-${String(i).padStart(4, '0')}\tvalue ${i}`)
    shoal.ok(home, ['kv', 'batch', 'db'], { input: lines.join('\n') + '\n' })
    shoal.ok(home, ['kv', 'put', 'db', 'hello', 'world'])
    const key = info(home, 'db').key
    const js = tempStore()
    try {
      const core = js.store.get({ key: Buffer.from(key, 'hex') })
      const bee = new Hyperbee(core, { keyEncoding: 'utf-8', valueEncoding: 'utf-8' })
      await bee.ready()
      const socket = dial(js.store, node.peer)
      await withTimeout(core.update({ wait: true }), 'update')
      assert.equal((await withTimeout(bee.get('hello'), 'get')).value, 'world')
      assert.equal((await bee.get('key-0123')).value, 'value 123')
      const range = []
      for await (const e of bee.createReadStream({ gte: 'key-0490', lt: 'key-0495' })) range.push(e.key)
      assert.deepEqual(range, ['key-0490', 'key-0491', 'key-0492', 'key-0493', 'key-0494'])
      // Sparse: the JS side fetched only what the lookups touched.
      assert.ok(core.contiguousLength < core.length || core.length <= 3)
      socket.destroy()
    } finally {
      await js.done()
    }
  })
})

test('a wrong key is not served, and the connection carries on for the right one', async () => {
  await withNode(async (home, node) => {
    shoal.ok(home, ['log', 'append', 'real', 'a', 'b'])
    const key = info(home, 'real').key
    const js = tempStore()
    try {
      const unknown = js.store.get({ key: crypto.randomBytes(32) })
      const core = js.store.get({ key: Buffer.from(key, 'hex') })
      await Promise.all([unknown.ready(), core.ready()])
      const socket = dial(js.store, node.peer)
      assert.equal((await withTimeout(core.get(1), 'get')).toString(), 'b')
      assert.equal(unknown.length, 0)
      socket.destroy()
    } finally {
      await js.done()
    }
  })
})

test('a JS reader reads a JS log through a Shoal follower, live', async () => {
  const w = tempStore()
  const server = await listen(w.store)
  const home = shoal.tempHome()
  try {
    const core = w.store.get({ name: 'relayed' })
    await core.ready()
    await core.append([Buffer.from('one'), Buffer.from('two')])
    const key = core.key.toString('hex')
    const node = await shoal.serve(home, ['--peer', server.addr])
    const r = tempStore()
    try {
      await shoal.okAsync(home, ['follow', key])
      await poll(async () => JSON.parse(await shoal.okAsync(home, ['log', 'info', key, '--json'])).contiguousLength === 2,
        'Shoal has the log')
      // The reader knows only the Shoal node.
      const reader = r.store.get({ key: core.key })
      await reader.ready()
      const socket = dial(r.store, node.peer)
      assert.equal((await withTimeout(reader.get(1), 'get 1')).toString(), 'two')
      await core.append(Buffer.from('three'))
      assert.equal((await withTimeout(reader.get(2), 'get 2 after the append')).toString(), 'three')
      socket.destroy()
    } finally {
      node.child.kill('SIGTERM')
      await shoal.waitExit(node.child)
      await r.done()
    }
  } finally {
    await server.close()
    await w.done()
    fs.rmSync(home, { recursive: true, force: true })
  }
})

test('a compat-mode JS core (no manifest on the wire) replicates into Shoal', async () => {
  const Hypercore = require('hypercore')
  const dir = shoal.tempHome()
  const home = shoal.tempHome()
  const core = new Hypercore(dir, { compat: true })
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    const stream = core.replicate(false)
    socket.pipe(stream).pipe(socket)
    stream.on('error', () => {})
    socket.on('error', () => {})
  })
  try {
    await core.ready()
    await core.append([Buffer.from('v10'), Buffer.from('style'), Buffer.from('core')])
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    const key = core.key.toString('hex')
    const out = await shoal.okAsync(home, ['follow', key, '--peer', '127.0.0.1:' + server.address().port, '--timeout', '60'])
    assert.match(out, /3 blocks/)
    assert.equal((await shoal.okAsync(home, ['log', 'get', key, '2'])), 'core')
    assert.match(await shoal.okAsync(home, ['log', 'verify', key]), /^ok 3 blocks/)
  } finally {
    for (const s of sockets) s.destroy()
    server.close()
    await core.close()
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(home, { recursive: true, force: true })
  }
})
