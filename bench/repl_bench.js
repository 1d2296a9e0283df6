// The JS side of the replication benchmark (bench/run-repl), the peer Shoal
// is measured against: hypercore 11 in corestore 7, over TCP on loopback
// with secret-stream, as Holepunch applications replicate. The same roles
// and output as bench/repl_peer.cc:
//
//   node repl_bench.js seed DIR COUNT SIZE   core "bench" of COUNT blocks; prints its key
//   node repl_bench.js serve DIR             prints "PORT KEY"; serves until stdin closes
//   node repl_bench.js fetch DIR KEY PORT    downloads KEY; prints {"seconds","bytes","blocks","tree_hash"}
'use strict'
const { rng, now } = require('./bench_util.js')
const net = require('node:net')
const Corestore = require('corestore')



async function seed (dir, count, size) {
  const store = new Corestore(dir)
  const core = store.get({ name: 'bench' })
  await core.ready()
  const next = rng(7)
  for (let done = 0; done < count;) {
    const batch = []
    for (let n = 0; n < 16 && done < count; n++, done++) {
      const block = Buffer.alloc(size)
      for (let i = 0; i < size; i += 4) block.writeUInt32LE(next(), i)
      batch.push(block)
    }
    await core.append(batch)
  }
  console.log(core.key.toString('hex'))
  await store.close()
}

async function serve (dir) {
  const store = new Corestore(dir)
  const core = store.get({ name: 'bench' })
  await core.ready()
  const server = net.createServer((socket) => {
    const stream = store.replicate(false)
    socket.pipe(stream).pipe(socket)
    stream.on('error', () => {})
    socket.on('error', () => {})
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  console.log(server.address().port + ' ' + core.key.toString('hex'))
  process.stdin.resume()
  process.stdin.on('end', async () => {
    server.close()
    await store.close()
    process.exit(0)
  })
}

async function fetch (dir, key, port) {
  const store = new Corestore(dir)
  const core = store.get({ key: Buffer.from(key, 'hex') })
  await core.ready()
  const start = now()
  const socket = net.connect(port, '127.0.0.1')
  const stream = store.replicate(true)
  socket.pipe(stream).pipe(socket)
  await core.update({ wait: true })
  await core.download({ start: 0, end: core.length }).done()
  const seconds = now() - start
  console.log(JSON.stringify({
    seconds,
    bytes: core.byteLength,
    blocks: core.length,
    tree_hash: (await core.treeHash()).toString('hex')
  }))
  socket.destroy()
  await store.close()
}

const [cmd, ...args] = process.argv.slice(2)
const run = { seed: () => seed(args[0], Number(args[1]), Number(args[2])), serve: () => serve(args[0]), fetch: () => fetch(args[0], args[1], Number(args[2])) }[cmd]
if (!run) {
  console.error('usage: repl_bench.js seed DIR COUNT SIZE | serve DIR | fetch DIR KEY PORT')
  process.exit(2)
}
run().catch((err) => {
  console.error('repl_bench.js:', err)
  process.exit(1)
})
