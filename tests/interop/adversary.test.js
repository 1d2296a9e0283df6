// A Shoal node against a lying peer (adversary.js, a man in the middle that
// changes what an honest JS writer sends): each lie is detected, nothing it
// sent is stored, the connection is closed, and the node keeps serving a JS
// reader connected to it all along. Then the honest writer is reached
// directly and the log downloads whole.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const Corestore = require('corestore')
const shoal = require('../shoal.js')

const { poll } = shoal
const adversary = require('./adversary.js')


async function infoAsync (home, nameOrKey) {
  return JSON.parse(await shoal.okAsync(home, ['log', 'info', nameOrKey, '--json']))
}

function hostPort (addr) {
  const i = addr.lastIndexOf(':')
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) }
}

test('lies are detected, not stored, and cost the liar its connection', async (t) => {
  // The honest writer.
  const wdir = shoal.tempHome()
  const wstore = new Corestore(wdir)
  const core = wstore.get({ name: 'victim' })
  await core.ready()
  const data = []
  for (let i = 0; i < 40; i++) data.push(Buffer.from(`honest block ${i}`))
  await core.append(data)
  const key = core.key.toString('hex')
  const writer = net.createServer((socket) => {
    const stream = wstore.replicate(false)
    socket.pipe(stream).pipe(socket)
    stream.on('error', () => {})
    socket.on('error', () => {})
  })
  await new Promise((resolve) => writer.listen(0, '127.0.0.1', resolve))
  const writerPort = writer.address().port

  // The Shoal node, with a log of its own that a JS reader follows meanwhile.
  const home = shoal.tempHome()
  shoal.ok(home, ['log', 'append', 'own', 'zero'])
  const ownKey = shoal.ok(home, ['log', 'info', 'own', '--json'])
  const node = await shoal.serve(home)
  const rdir = shoal.tempHome()
  const rstore = new Corestore(rdir)
  const own = rstore.get({ key: Buffer.from(JSON.parse(ownKey).key, 'hex') })
  await own.ready()
  const { host, port } = hostPort(node.peer)
  const rsocket = net.connect(port, host)
  const rstream = rstore.replicate(true)
  rsocket.pipe(rstream).pipe(rsocket)
  rstream.on('error', () => {})
  rsocket.on('error', () => {})
  own.download({ start: 0, end: -1 })

  const proxies = []
  try {
    let appended = 1
    // What the node's log says when it drops the liar.
    const reasons = {
      capability: /capability .* is wrong/,
      signature: /Verification failed: .*invalid signature/,
      node: /Verification failed: log /,
      block: /Verification failed: log /,
      malformed: /Malformed/,
      oversized: /Verification failed: secretstream/
    }
    for (const mode of Object.keys(reasons)) {
      await t.test(mode, async () => {
        const before = node.errors().length
        const proxy = await adversary.start({ writerPort, key: Buffer.from(key, 'hex'), mode })
        proxies.push(proxy)
        // Follow through the liar only (the honest writer is not dialled yet).
        await shoal.okAsync(home, ['follow', key, '--peer', proxy.addr])
        await poll(() => proxy.closes >= 1, mode + ': Shoal closed the connection')
        await poll(() => reasons[mode].test(node.errors().slice(before)), mode + ': the reason is logged', 10000)
        const info = await infoAsync(home, key)
        const dump = (await shoal.okAsync(home, ['log', 'dump', key])).trim()
        const stored = dump === '' ? [] : dump.split('\n').filter((l) => l !== '-')
        assert.equal(stored.length, 0, mode + ': no block from the liar is stored')
        if (mode === 'signature' || mode === 'node' || mode === 'capability') {
          assert.equal(info.length, 0, mode + ': no length from the liar is stored')
        }
        // The node still serves: an append reaches the JS reader.
        appended++
        await shoal.okAsync(home, ['log', 'append', 'own', 'during ' + mode])
        await poll(() => own.contiguousLength === appended, mode + ': the reader kept up')
        await proxy.close()
      })
    }

    // The honest writer, reached directly: everything arrives and verifies.
    await shoal.okAsync(home, ['follow', key, '--peer', '127.0.0.1:' + writerPort])
    await poll(async () => (await infoAsync(home, key)).length === 40, 'honest download')
    await poll(async () => {
      const dump = (await shoal.okAsync(home, ['log', 'dump', key])).trim().split('\n')
      return dump.length === 40 && dump.every((l, i) => l === data[i].toString('hex'))
    }, 'honest blocks')
    assert.equal((await infoAsync(home, key)).treeHash, (await core.treeHash()).toString('hex'))
    await shoal.okAsync(home, ['log', 'verify', key])
  } finally {
    for (const p of proxies) await p.close()
    rsocket.destroy()
    node.child.kill('SIGTERM')
    await shoal.waitExit(node.child)
    await rstore.close()
    await wstore.close()
    writer.close()
    for (const d of [home, wdir, rdir]) fs.rmSync(d, { recursive: true, force: true })
  }
})
