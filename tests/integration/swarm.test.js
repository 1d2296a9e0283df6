// Two and three Shoal nodes on loopback: a bucket written on A is followed
// by B and C; they serve its objects to the aws-cli from their verified
// copies and refuse writes to them; with A killed they still serve; A comes
// back and they take its new writes; C, killed while A writes, catches up
// what it missed when it restarts.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const shoal = require('../shoal.js')

const { clientEnv, aws, poll } = shoal

// GET through the aws-cli; the bytes, or null while the object is not there.
function get (env, bucket, key, dir) {
  const file = path.join(dir, 'got-' + crypto.randomBytes(4).toString('hex'))
  const r = aws(env, ['s3', 'cp', `s3://${bucket}/${key}`, file, '--only-show-errors'], { allowFail: true })
  if (r.code !== 0) return null
  const data = fs.readFileSync(file)
  fs.rmSync(file)
  return data
}

test('a bucket replicated over three nodes', async () => {
  const dir = shoal.tempHome()
  const homes = { a: path.join(dir, 'a'), b: path.join(dir, 'b'), c: path.join(dir, 'c') }
  const nodes = {}
  const objects = {}
  const stop = async (name, signal = 'SIGTERM') => {
    nodes[name].child.kill(signal)
    await shoal.waitExit(nodes[name].child)
    delete nodes[name]
  }
  try {
    // A: the owner, with a bucket of a few objects, one of 5 MiB.
    nodes.a = await shoal.serve(homes.a)
    const envA = clientEnv(homes.a, nodes.a.s3)
    aws(envA, ['s3', 'mb', 's3://photos'])
    const put = (env, name, data) => {
      const file = path.join(dir, 'put-' + name.replace(/\//g, '_'))
      fs.writeFileSync(file, data)
      aws(env, ['s3', 'cp', file, `s3://photos/${name}`, '--only-show-errors'])
      objects[name] = data
    }
    put(envA, 'small.txt', Buffer.from('hello from A'))
    put(envA, 'big.bin', crypto.randomBytes(5 << 20))
    put(envA, 'dir/one.txt', Buffer.from('one'))
    const bucket = JSON.parse(shoal.ok(homes.a, ['buckets', '--json'])).find((b) => b.name === 'photos')
    assert.match(bucket.key, /^[0-9a-f]{64}$/)

    // B follows it from A; C from both.
    nodes.b = await shoal.serve(homes.b, ['--peer', nodes.a.peer])
    nodes.c = await shoal.serve(homes.c, ['--peer', nodes.a.peer, '--peer', nodes.b.peer])
    shoal.ok(homes.b, ['follow', bucket.key, '--bucket', 'photos'])
    shoal.ok(homes.c, ['follow', bucket.key, '--bucket', 'photos'])
    const envB = clientEnv(homes.b, nodes.b.s3)
    const envC = clientEnv(homes.c, nodes.c.s3)
    for (const [env, name] of [[envB, 'B'], [envC, 'C']]) {
      for (const [key, data] of Object.entries(objects)) {
        await poll(() => {
          const got = get(env, 'photos', key, dir)
          return got && got.equals(data)
        }, `${name} serves ${key}`)
      }
    }
    const listed = aws(envB, ['s3api', 'list-objects-v2', '--bucket', 'photos'])
    assert.deepEqual(JSON.parse(listed.stdout).Contents.map((o) => o.Key).sort(), Object.keys(objects).sort())
    const replicaBuckets = JSON.parse(shoal.ok(homes.b, ['buckets', '--json']))
    assert.deepEqual(replicaBuckets, [{ name: 'photos', owner: 'owner', key: bucket.key, replica: true }])

    // Writes to a replica are refused with S3's AccessDenied.
    const file = path.join(dir, 'refused')
    fs.writeFileSync(file, 'nope')
    const refused = aws(envB, ['s3', 'cp', file, 's3://photos/refused'], { allowFail: true })
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /AccessDenied/)
    const del = aws(envB, ['s3', 'rm', 's3://photos/small.txt'], { allowFail: true })
    assert.match(del.stderr, /AccessDenied/)

    // A is killed: B and C still serve every object.
    await stop('a', 'SIGKILL')
    for (const env of [envB, envC]) {
      for (const [key, data] of Object.entries(objects)) assert.ok(get(env, 'photos', key, dir).equals(data))
    }

    // A comes back and writes; B and C take the new object.
    nodes.a = await shoal.serve(homes.a, ['--peer', nodes.b.peer, '--peer', nodes.c.peer])
    const envA2 = clientEnv(homes.a, nodes.a.s3)
    put(envA2, 'after-restart.txt', Buffer.from('A is back'))
    for (const [env, name] of [[envB, 'B'], [envC, 'C']]) {
      await poll(() => {
        const got = get(env, 'photos', 'after-restart.txt', dir)
        return got && got.toString() === 'A is back'
      }, `${name} got the write A made after its restart`)
    }

    // C is killed; A writes more; C restarts and catches up what it missed.
    await stop('c', 'SIGKILL')
    put(envA2, 'while-c-was-down.bin', crypto.randomBytes(300000))
    nodes.c = await shoal.serve(homes.c, ['--peer', nodes.a.peer])
    const envC2 = clientEnv(homes.c, nodes.c.s3)
    await poll(() => {
      const got = get(envC2, 'photos', 'while-c-was-down.bin', dir)
      return got && got.equals(objects['while-c-was-down.bin'])
    }, 'C caught up')
    const peers = JSON.parse(shoal.ok(homes.c, ['peers', '--json']))
    const following = peers.logs.filter((l) => l.following)
    assert.equal(following.length, 2) // the drive's db and blobs logs
    for (const l of following) assert.equal(l.storedBlocks, l.length)
  } finally {
    for (const name of Object.keys(nodes)) await stop(name)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a follower finds the writer through the DHT, with no peer given', async () => {
  const dir = shoal.tempHome()
  const homes = { a: path.join(dir, 'a'), b: path.join(dir, 'b'), c: path.join(dir, 'c') }
  const nodes = []
  try {
    // B is only a DHT node the others join through.
    const b = await shoal.serve(homes.b, ['--dht', '127.0.0.1:0'])
    nodes.push(b)
    assert.match(b.dht, /^127\.0\.0\.1:\d+$/)
    shoal.ok(homes.a, ['log', 'append', 'diary', 'monday', 'tuesday'])
    const key = JSON.parse(shoal.ok(homes.a, ['log', 'info', 'diary', '--json'])).key
    nodes.push(await shoal.serve(homes.a, ['--dht', '127.0.0.1:0', '--dht-bootstrap', b.dht]))
    nodes.push(await shoal.serve(homes.c, ['--dht', '127.0.0.1:0', '--dht-bootstrap', b.dht]))
    shoal.ok(homes.c, ['follow', key])
    await poll(() => {
      const info = JSON.parse(shoal.ok(homes.c, ['log', 'info', key, '--json']))
      return info.length === 2 && info.contiguousLength === 2
    }, 'C found A on the DHT and downloaded the log')
    assert.equal(shoal.ok(homes.c, ['log', 'get', key, '1']), 'tuesday')
    // Live, too.
    shoal.ok(homes.a, ['log', 'append', 'diary', 'wednesday'])
    await poll(() => JSON.parse(shoal.ok(homes.c, ['log', 'info', key, '--json'])).contiguousLength === 3,
      'the append reached C')
  } finally {
    for (const n of nodes) {
      n.child.kill('SIGTERM')
      await shoal.waitExit(n.child)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a followed database answers reads and refuses writes', async () => {
  const dir = shoal.tempHome()
  const homes = { a: path.join(dir, 'a'), b: path.join(dir, 'b') }
  const nodes = []
  try {
    const a = await shoal.serve(homes.a)
    nodes.push(a)
    shoal.ok(homes.a, ['kv', 'put', 'settings', 'theme', 'dark'])
    shoal.ok(homes.a, ['kv', 'put', 'settings', 'lang', 'fr'])
    const key = JSON.parse(shoal.ok(homes.a, ['log', 'info', 'settings', '--json'])).key
    nodes.push(await shoal.serve(homes.b, ['--peer', a.peer]))
    shoal.ok(homes.b, ['follow', key])
    await poll(() => shoal.run(homes.b, ['kv', 'get', key, 'lang']).stdout.toString() === 'fr\n',
      'B reads the database')
    const listed = JSON.parse(shoal.ok(homes.b, ['kv', 'ls', key, '--json']))
    assert.deepEqual(listed.map((e) => [e.key, e.value]), [['lang', 'fr'], ['theme', 'dark']])
    const refused = shoal.run(homes.b, ['kv', 'put', key, 'theme', 'light'])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /read-only replica/)
    // The writer's change arrives; the refused one never existed.
    shoal.ok(homes.a, ['kv', 'put', 'settings', 'theme', 'light'])
    await poll(() => shoal.run(homes.b, ['kv', 'get', key, 'theme']).stdout.toString() === 'light\n',
      'the change reached B')
  } finally {
    for (const n of nodes) {
      n.child.kill('SIGTERM')
      await shoal.waitExit(n.child)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a follower killed again and again mid-download resumes, and its copy verifies', async () => {
  const dir = shoal.tempHome()
  const homes = { a: path.join(dir, 'a'), b: path.join(dir, 'b') }
  const nodes = {}
  try {
    // 20,000 blocks of 4 KiB: long enough to be killed in the middle.
    const lines = []
    for (let i = 0; i < 20000; i++) lines.push(crypto.createHash('sha256').update(String(i)).digest('hex').repeat(64))
    shoal.ok(homes.a, ['log', 'append', 'big'], { input: lines.join('\n') + '\n' })
    const key = JSON.parse(shoal.ok(homes.a, ['log', 'info', 'big', '--json'])).key
    nodes.a = await shoal.serve(homes.a)
    const stored = async () => {
      const peers = JSON.parse(await shoal.okAsync(homes.b, ['peers', '--json']))
      const log = (peers.logs || []).find((l) => l.key === key)
      return log ? log.storedBlocks : 0
    }
    let kills = 0
    let before = -1
    for (let round = 0; round < 6; round++) {
      nodes.b = await shoal.serve(homes.b, ['--peer', nodes.a.peer])
      if (round === 0) shoal.ok(homes.b, ['follow', key])
      const now = await poll(async () => {
        const n = await stored()
        return n > before ? n : 0
      }, 'progress after restart ' + round)
      if (now >= 20000) break
      // Somewhere in the middle of the download.
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 150)))
      nodes.b.child.kill('SIGKILL')
      await shoal.waitExit(nodes.b.child)
      delete nodes.b
      kills++
      before = now
    }
    if (!nodes.b) nodes.b = await shoal.serve(homes.b, ['--peer', nodes.a.peer])
    await poll(async () => (await stored()) === 20000, 'the download completed')
    assert.ok(kills >= 1, 'the follower was killed mid-download at least once')
    console.log('kills during the download: ' + kills)
    assert.match(await shoal.okAsync(homes.b, ['log', 'verify', key]), /^ok 20000 blocks/)
    for (const i of [0, 7777, 19999]) {
      assert.equal(await shoal.okAsync(homes.b, ['log', 'get', key, String(i)]), lines[i])
    }
  } finally {
    for (const n of Object.values(nodes)) {
      n.child.kill('SIGTERM')
      await shoal.waitExit(n.child)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
