// The MQTT broker with stock clients: mosquitto_pub and mosquitto_sub
// (3.1.1 and 5.0) against `shoal serve` on a loopback port.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const { spawn } = require('node:child_process')
const shoal = require('../shoal.js')

const { client, makeCertificate } = shoal

// A subscriber that runs until it has `count` messages; `ready` resolves once
// its SUBSCRIBE is acknowledged (-d prints "received SUBACK").
function subscriber (args, count) {
  // Line-buffered, or the SUBACK line would wait in stdio's buffer.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', '-C', String(count), '-W', '20', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let subscribed
  const ready = new Promise((resolve) => { subscribed = resolve })
  child.stdout.on('data', (d) => {
    out += d
    if (out.includes('received SUBACK')) subscribed()
  })
  child.stderr.on('data', (d) => { out += d })
  const done = new Promise((resolve) => child.on('close', (code) => resolve({ code, out })))
  return { child, ready, done }
}

// The message lines of a `-d -v` subscriber's output ("topic payload").
function messages (out) {
  return out.split('\n').filter((l) => l && !/^Client |^Subscribed|^Received |^Sending /.test(l))
}

// mosquitto client arguments that sign in as a user of `home`: the owner,
// or `name`, added first.
function signIn (home, name) {
  const keys = name
    ? JSON.parse(shoal.ok(home, ['user', 'add', name, '--json']))
    : JSON.parse(shoal.ok(home, ['credentials', '--json']))
  return ['-u', name || 'owner', '-P', keys.secretAccessKey]
}

// Runs `fn(node, home)` against a node serving a fresh home, stopped and
// removed afterwards. `toml` is written as its shoal.toml, `certificate`
// makes cert.pem and key.pem in it first, and `args` go to serve.
async function withNode (fn, { toml, certificate, args } = {}) {
  const home = shoal.tempHome()
  if (certificate) makeCertificate(home)
  if (toml) fs.writeFileSync(`${home}/shoal.toml`, toml)
  const node = await shoal.serve(home, args)
  try {
    await fn(node, home)
  } finally {
    node.child.kill('SIGTERM')
    await shoal.waitExit(node.child)
    fs.rmSync(home, { recursive: true, force: true })
  }
}

test('publish and subscribe at every QoS, 3.1.1 and 5.0 clients together', async () => {
  await withNode(async (node) => {
    const p = ['-p', String(node.mqttPort)]
    const v311 = subscriber([...p, '-V', 'mqttv311', '-q', '2', '-v', '-t', 'home/#'], 6)
    const v5 = subscriber([...p, '-V', 'mqttv5', '-q', '1', '-v', '-t', 'home/+/temp'], 3)
    await Promise.all([v311.ready, v5.ready])
    for (const [qos, version] of [[0, 'mqttv311'], [1, 'mqttv5'], [2, 'mqttv311']]) {
      const r = await client('mosquitto_pub', [...p, '-V', version, '-q', String(qos), '-t',
        `home/q${qos}/temp`, '-m', `t${qos}`])
      assert.equal(r.code, 0, r.stderr)
    }
    // Three that the 5.0 filter does not match.
    for (const t of ['home/a', 'home/a/b/temp', 'office/q0/temp']) {
      assert.equal((await client('mosquitto_pub', [...p, '-q', '1', '-t', t, '-m', 'x'])).code, 0)
    }
    await client('mosquitto_pub', [...p, '-q', '2', '-t', 'home/b', '-m', 'y'])
    const [a, b] = await Promise.all([v311.done, v5.done])
    assert.deepEqual(messages(a.out),
      ['home/q0/temp t0', 'home/q1/temp t1', 'home/q2/temp t2', 'home/a x', 'home/a/b/temp x', 'home/b y'])
    assert.deepEqual(messages(b.out), ['home/q0/temp t0', 'home/q1/temp t1', 'home/q2/temp t2'])
    // QoS is the lower of the publish's and the subscription's.
    assert.match(a.out, /Client \S+ received PUBLISH \(d0, q2, r0, m\d+, 'home\/q2\/temp'/)
    assert.match(b.out, /received PUBLISH \(d0, q1, r0, m\d+, 'home\/q2\/temp'/)
  })
})

test('retained messages are set, replaced and cleared', async () => {
  await withNode(async (node) => {
    const p = ['-p', String(node.mqttPort)]
    const pub = (args) => client('mosquitto_pub', [...p, ...args])
    await pub(['-r', '-q', '1', '-t', 'state/lamp', '-m', 'on'])
    await pub(['-r', '-q', '1', '-t', 'state/door', '-m', 'open'])
    await pub(['-r', '-q', '1', '-t', 'state/lamp', '-m', 'off'])
    let r = await client('mosquitto_sub', [...p, '-v', '-t', 'state/#', '-C', '2', '-W', '5'])
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['state/door open', 'state/lamp off'])
    await pub(['-r', '-q', '1', '-t', 'state/door', '-n'])  // an empty payload clears it
    r = await client('mosquitto_sub', [...p, '-v', '-t', 'state/#', '-W', '2'])
    assert.equal(r.stdout.trim(), 'state/lamp off')
    // A retained message arrives flagged as retained.
    r = await client('mosquitto_sub', [...p, '-d', '-t', 'state/lamp', '-C', '1', '-W', '5'])
    assert.match(r.stdout, /received PUBLISH \(d0, q0, r1/)
  })
})

test('a client killed without DISCONNECT leaves its will; one that disconnects does not', async () => {
  await withNode(async (node) => {
    const p = ['-p', String(node.mqttPort)]
    const watcher = subscriber([...p, '-v', '-t', 'wills/#'], 1)
    await watcher.ready
    // Disconnects cleanly after one message: no will.
    const polite = await client('mosquitto_sub', [...p, '-t', 'x', '-C', '1', '-W', '1',
      '--will-topic', 'wills/polite', '--will-payload', 'bye'])
    assert.notEqual(polite.code, null)
    const rude = subscriber([...p, '-t', 'x', '--will-topic', 'wills/rude', '--will-payload', 'gone',
      '--will-qos', '1'], 1)
    await rude.ready
    rude.child.kill('SIGKILL')
    const r = await watcher.done
    assert.deepEqual(messages(r.out), ['wills/rude gone'])
  })
})

test('a persistent session gets the QoS 1 and 2 messages sent while it was away', async () => {
  await withNode(async (node) => {
    const p = ['-p', String(node.mqttPort)]
    // Subscribe with clean session off, then go away.
    let r = await client('mosquitto_sub', [...p, '-c', '-i', 'keeper', '-q', '2', '-t', 'jobs/#',
      '-W', '1'])
    for (let i = 0; i < 5; i++) {
      const qos = i % 2 ? '1' : '2'
      assert.equal((await client('mosquitto_pub', [...p, '-q', qos, '-t', `jobs/${i}`, '-m', `j${i}`])).code, 0)
    }
    await client('mosquitto_pub', [...p, '-q', '0', '-t', 'jobs/lost', '-m', 'qos0'])
    r = await client('mosquitto_sub', [...p, '-c', '-i', 'keeper', '-q', '2', '-t', 'jobs/#',
      '-v', '-C', '5', '-W', '5'])
    // (The client hands a QoS 2 message over only once PUBREL has come, so
    // the QoS 1 ones may come out first.)
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['jobs/0 j0', 'jobs/1 j1', 'jobs/2 j2', 'jobs/3 j3', 'jobs/4 j4'])
    // 5.0: a session expiry interval keeps it too; 0 (the default) does not.
    await client('mosquitto_sub', [...p, '-V', 'mqttv5', '-c', '-i', 'brief', '-q', '1', '-t', 'n/#',
      '-x', '0', '-W', '1'])
    await client('mosquitto_pub', [...p, '-q', '1', '-t', 'n/1', '-m', 'missed'])
    r = await client('mosquitto_sub', [...p, '-V', 'mqttv5', '-c', '-i', 'brief', '-q', '1', '-t', 'other',
      '-x', '60', '-v', '-W', '1'])
    assert.equal(r.stdout, '')
  })
})

test('[mqtt] max_queued_bytes bounds what waits for a client that is away', async () => {
  const toml = '[mqtt]\nmax_queued_bytes = 1000\n'
  await withNode(async (node, home) => {
    const p = ['-p', String(node.mqttPort)]
    await client('mosquitto_sub', [...p, '-c', '-i', 'away', '-q', '1', '-t', 'q/#', '-W', '1'])
    // 303 bytes each with the topic: three fit in 1000, the rest are dropped.
    for (let i = 0; i < 5; i++) {
      const r = await client('mosquitto_pub', [...p, '-q', '1', '-t', `q/${i}`, '-m', String(i).repeat(300)])
      assert.equal(r.code, 0)
    }
    const r = await client('mosquitto_sub', [...p, '-c', '-i', 'away', '-q', '1', '-t', 'q/#', '-v', '-W', '2'])
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.slice(0, 5)), ['q/0 0', 'q/1 1', 'q/2 2'])
    // Once they are sent, there is room again.
    await client('mosquitto_pub', [...p, '-q', '1', '-t', 'q/again', '-m', 'x'.repeat(900)])
    const again = await client('mosquitto_sub', [...p, '-c', '-i', 'away', '-q', '1', '-t', 'q/#', '-C', '1', '-W', '5'])
    assert.equal(again.stdout.trim(), 'x'.repeat(900))
  }, { toml })
})

test('user names and passwords', async () => {
  await withNode(async (node, home) => {
    const p = ['-p', String(node.mqttPort)]
    let r = await client('mosquitto_pub', [...p, ...signIn(home), '-t', 'a', '-m', '1'])
    assert.equal(r.code, 0, r.stderr)
    r = await client('mosquitto_pub', [...p, '-u', 'owner', '-P', 'wrong', '-t', 'a', '-m', '1'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /bad user name or password/i)
    r = await client('mosquitto_pub', [...p, '-V', 'mqttv5', '-u', 'nobody', '-P', 'x', '-t', 'a', '-m', '1'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /bad user name or password/i)
    // Anonymous clients are let in on a loopback listener.
    r = await client('mosquitto_pub', [...p, '-t', 'a', '-m', '1'])
    assert.equal(r.code, 0, r.stderr)
  })
})

test('garbage and half packets close only their own connection', async () => {
  await withNode(async (node) => {
    const p = ['-p', String(node.mqttPort)]
    const watcher = subscriber([...p, '-v', '-t', 'alive'], 1)
    await watcher.ready
    const closed = (bytes) => new Promise((resolve) => {
      const s = net.connect(node.mqttPort, '127.0.0.1', () => s.write(Buffer.from(bytes)))
      s.on('data', () => {})
      s.on('error', () => resolve(true))
      s.on('close', () => resolve(true))
    })
    // A first packet that is not CONNECT; a CONNECT of an unknown protocol;
    // a remaining length of five bytes; a reserved packet type.
    assert.ok(await closed([0x30, 0x03, 0x00, 0x01, 0x61]))
    assert.ok(await closed([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x09, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x61]))
    assert.ok(await closed([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]))
    assert.ok(await closed([0x00, 0x00]))
    // Half a CONNECT, then silence: the rest of the node does not wait on it.
    const stall = net.connect(node.mqttPort, '127.0.0.1', () => stall.write(Buffer.from([0x10, 0x0d, 0x00, 0x04])))
    stall.on('error', () => {})
    const r = await client('mosquitto_pub', [...p, '-q', '1', '-t', 'alive', '-m', 'yes'])
    assert.equal(r.code, 0)
    assert.deepEqual(messages((await watcher.done).out), ['alive yes'])
    stall.destroy()
  })
})

test('per-user topic ACLs from shoal.toml', async () => {
  const toml = [
    '[[mqtt.acl]]', 'user = "anonymous"', 'publish = ["public/#"]', 'subscribe = ["public/+/news"]',
    '[[mqtt.acl]]', 'user = "owner"', 'publish = ["#"]', 'subscribe = ["#"]', ''
  ].join('\n')
  await withNode(async (node, home) => {
    const p = ['-p', String(node.mqttPort)]
    const owner = signIn(home)
    const all = subscriber([...p, ...owner, '-v', '-t', '#'], 2)
    await all.ready
    // Anonymous: "#" is wider than what it may read (3.1.1: 0x80; 5.0: 0x87).
    let r = await client('mosquitto_sub', [...p, '-d', '-t', '#', '-W', '2'])
    assert.match(r.stdout + r.stderr, /Subscribed \(mid: 1\): 128/)
    r = await client('mosquitto_sub', [...p, '-V', 'mqttv5', '-d', '-t', 'public/#', '-W', '2'])
    assert.match(r.stdout + r.stderr, /Subscribed \(mid: 1\): 135/)
    const news = subscriber([...p, '-v', '-t', 'public/+/news'], 1)
    await news.ready
    // Anonymous may publish under public/ only; the rest is dropped.
    await client('mosquitto_pub', [...p, '-q', '1', '-t', 'private/x', '-m', 'no'])
    r = await client('mosquitto_pub', [...p, '-V', 'mqttv5', '-q', '1', '-t', 'private/y', '-m', 'no', '-d'])
    assert.match(r.stdout, /received PUBACK \(Mid: 1, RC:135\)/)
    await client('mosquitto_pub', [...p, '-q', '1', '-t', 'public/a/news', '-m', 'yes'])
    await client('mosquitto_pub', [...p, ...owner, '-q', '1', '-t', 'private/z', '-m', 'mine'])
    assert.deepEqual(messages((await all.done).out), ['public/a/news yes', 'private/z mine'])
    assert.deepEqual(messages((await news.done).out), ['public/a/news yes'])
  }, { toml })
})

test('ACL filters with %c and %u give each client a subtree of its own', async () => {
  const toml = [
    '[[mqtt.acl]]', 'user = "*"', 'publish = ["devices/%c/#"]', 'subscribe = ["devices/%c/cmd", "users/%u/#"]',
    '[[mqtt.acl]]', 'user = "owner"', 'publish = ["#"]', 'subscribe = ["#"]', ''
  ].join('\n')
  await withNode(async (node, home) => {
    const p = ['-p', String(node.mqttPort)]
    const owner = signIn(home)
    const all = subscriber([...p, ...owner, '-v', '-t', 'devices/#'], 2)
    const cmd = subscriber([...p, '-i', 'dev1', '-v', '-q', '1', '-t', 'devices/dev1/cmd'], 1)
    await Promise.all([all.ready, cmd.ready])
    // Another device's commands, and a user subtree without a user name.
    let r = await client('mosquitto_sub', [...p, '-i', 'dev2', '-V', 'mqttv5', '-d', '-t', 'devices/dev1/cmd', '-W', '2'])
    assert.match(r.stdout + r.stderr, /Subscribed \(mid: 1\): 135/)
    r = await client('mosquitto_sub', [...p, '-i', 'dev2', '-d', '-t', 'users/anonymous/x', '-W', '2'])
    assert.match(r.stdout + r.stderr, /Subscribed \(mid: 1\): 128/)
    // A user's own subtree, and not another's.
    const alice = signIn(home, 'alice')
    r = await client('mosquitto_sub', [...p, ...alice, '-d', '-q', '1', '-t', 'users/alice/+', '-W', '2'])
    assert.match(r.stdout + r.stderr, /Subscribed \(mid: 1\): 1\n/)
    r = await client('mosquitto_sub', [...p, ...alice, '-d', '-t', 'users/owner/x', '-W', '2'])
    assert.match(r.stdout + r.stderr, /Subscribed \(mid: 1\): 128/)
    // A device publishes under its own id only; an id that is a wildcard
    // stands for nothing.
    r = await client('mosquitto_pub', [...p, '-i', 'dev2', '-V', 'mqttv5', '-q', '1', '-t', 'devices/dev1/temp', '-m', '9', '-d'])
    assert.match(r.stdout, /received PUBACK \(Mid: 1, RC:135\)/)
    r = await client('mosquitto_pub', [...p, '-i', '+', '-V', 'mqttv5', '-q', '1', '-t', 'devices/x/temp', '-m', '9', '-d'])
    assert.match(r.stdout, /received PUBACK \(Mid: 1, RC:135\)/)
    await client('mosquitto_pub', [...p, '-i', 'dev2', '-q', '1', '-t', 'devices/dev2/temp', '-m', '21'])
    await client('mosquitto_pub', [...p, ...owner, '-q', '1', '-t', 'devices/dev1/cmd', '-m', 'on'])
    assert.deepEqual(messages((await all.done).out), ['devices/dev2/temp 21', 'devices/dev1/cmd on'])
    assert.deepEqual(messages((await cmd.done).out), ['devices/dev1/cmd on'])
  }, { toml })
})

test("a client id in use by another user's session is refused, and the session kept", async () => {
  await withNode(async (node, home) => {
    const p = ['-p', String(node.mqttPort)]
    const owner = signIn(home)
    const mallory = signIn(home, 'mallory')
    // The owner's device, with a kept session, connected.
    const device = subscriber([...p, ...owner, '-i', 'dev1', '-c', '-q', '1', '-v', '-t', 'home/cmd'], 1)
    await device.ready
    // Another user, or an anonymous client, with that client id: refused
    // (3.1.1: identifier rejected; 5.0: 0x85), whatever its clean session.
    let r = await client('mosquitto_pub', [...p, ...mallory, '-i', 'dev1', '-t', 'x', '-m', 'x'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /identifier rejected/i)
    r = await client('mosquitto_sub', [...p, '-V', 'mqttv5', '-i', 'dev1', '-c', '-t', 'home/cmd', '-W', '2'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /Client Identifier not valid/i)
    // The device is still connected and subscribed.
    await client('mosquitto_pub', [...p, ...owner, '-q', '1', '-t', 'home/cmd', '-m', 'on'])
    assert.deepEqual(messages((await device.done).out), ['home/cmd on'])
  })
})

test('deny rules in ACLs refuse publishing, subscribing and receiving', async () => {
  const toml = [
    '[[mqtt.acl]]', 'user = "anonymous"', 'publish = ["#"]', 'subscribe = ["#"]',
    'deny_publish = ["locked/#"]', 'deny_subscribe = ["secret/#"]', ''
  ].join('\n')
  await withNode(async (node, home) => {
    const p = ['-p', String(node.mqttPort)]
    await client('mosquitto_pub', [...p, '-q', '1', '-r', '-t', 'secret/kept', '-m', 'hidden'])
    await client('mosquitto_pub', [...p, '-q', '1', '-r', '-t', 'open/kept', '-m', 'shown'])
    // A filter inside the denied ones is refused (3.1.1: 0x80; 5.0: 0x87).
    let r = await client('mosquitto_sub', [...p, '-d', '-t', 'secret/a', '-W', '2'])
    assert.match(r.stdout + r.stderr, /Subscribed \(mid: 1\): 128/)
    r = await client('mosquitto_sub', [...p, '-V', 'mqttv5', '-d', '-t', 'secret/#', '-W', '2'])
    assert.match(r.stdout + r.stderr, /Subscribed \(mid: 1\): 135/)
    // A wider one is granted, but what is published under secret/ (or kept
    // there) does not reach it.
    const all = subscriber([...p, '-v', '-q', '1', '-t', '#'], 3)
    await all.ready
    await client('mosquitto_pub', [...p, '-q', '1', '-t', 'secret/x', '-m', 'hidden'])
    await client('mosquitto_pub', [...p, '-q', '1', '-t', 'open/y', '-m', 'shown'])
    r = await client('mosquitto_pub', [...p, '-V', 'mqttv5', '-q', '1', '-t', 'locked/z', '-m', 'no', '-d'])
    assert.match(r.stdout, /received PUBACK \(Mid: 1, RC:135\)/)
    await client('mosquitto_pub', [...p, '-q', '1', '-t', 'open/w', '-m', 'shown'])
    assert.deepEqual(messages((await all.done).out), ['open/kept shown', 'open/y shown', 'open/w shown'])
  }, { toml })
})

test('MQTT over TLS with a certificate from [tls], beside plain MQTT', async () => {
  // Relative paths are the config file's folder's.
  const toml = '[tls]\ncert = "cert.pem"\nkey = "key.pem"\n'
  await withNode(async (node, home) => {
    assert.ok(node.mqttsPort, node.output())
    const tlsPort = String(node.mqttsPort)
    const tls = ['-p', tlsPort, '--cafile', `${home}/cert.pem`]
    const plain = ['-p', String(node.mqttPort)]
    const overTls = subscriber([...tls, '-V', 'mqttv5', '-q', '2', '-v', '-t', 'tls/#'], 3)
    const overTcp = subscriber([...plain, '-q', '1', '-v', '-t', 'tls/#'], 3)
    await Promise.all([overTls.ready, overTcp.ready])
    for (const [qos, version, args] of [[0, 'mqttv311', tls], [1, 'mqttv5', plain], [2, 'mqttv311', tls]]) {
      const r = await client('mosquitto_pub', [...args, '-V', version, '-q', String(qos), '-t', `tls/q${qos}`,
        '-m', 'x'.repeat(60000 * qos + 1)])
      assert.equal(r.code, 0, r.stderr)
    }
    const want = ['tls/q0 x', `tls/q1 ${'x'.repeat(60001)}`, `tls/q2 ${'x'.repeat(120001)}`]
    assert.deepEqual(messages((await overTls.done).out), want)
    assert.deepEqual(messages((await overTcp.done).out), want)

    // A client that does not trust the certificate gets nowhere; plain
    // bytes on the TLS port are a failed handshake; the node serves on.
    makeCertificate(`${home}/other`)
    let r = await client('mosquitto_pub', ['-p', tlsPort, '--cafile', `${home}/other/cert.pem`,
      '-t', 'tls/no', '-m', 'no'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /TLS error/)
    const raw = net.connect(node.mqttsPort, '127.0.0.1')
    raw.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]))
    await new Promise((resolve) => raw.on('close', resolve))
    r = await client('mosquitto_sub', [...tls, '-t', 'tls/#', '-W', '1'])
    assert.equal(r.code, 27, r.stderr)  // connected, then timed out waiting: TLS works
  }, { toml, certificate: true, args: ['--listen-mqtts', '127.0.0.1:0', '--listen-https', '127.0.0.1:0'] })
})

test('bad [tls] settings are usage errors', () => {
  const home = shoal.tempHome()
  try {
    makeCertificate(home)
    const cases = [
      ['[tls]\ncert = "cert.pem"\n', [], /\[tls\] needs both cert and key/],
      ['[tls]\ncert = "nothere.pem"\nkey = "key.pem"\n', [], /cannot use the certificate in .*nothere\.pem/],
      ['[tls]\ncert = "cert.pem"\nkey = "cert.pem"\n', [], /cannot use the private key in .*cert\.pem/],
      ['[tls]\nwhat = 1\n', [], /unknown key tls\.what/],
      ['', ['--listen-mqtts', '127.0.0.1:0'], /--listen-mqtts needs a certificate/],
      ['', ['--listen-https', '127.0.0.1:0'], /--listen-https needs a certificate/]
    ]
    for (const [toml, args, message] of cases) {
      fs.writeFileSync(`${home}/bad.toml`, toml)
      const r = shoal.run(home, ['serve', '--config', `${home}/bad.toml`, ...args])
      assert.equal(r.code, 2, toml)
      assert.match(r.stderr, message)
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
})

test('bad [mqtt] settings are usage errors', () => {
  const home = shoal.tempHome()
  try {
    const cases = [
      ['[mqtt]\nmax_keep_alive = 0\n', /mqtt\.max_keep_alive must be an integer from 1 to 65535/],
      ['[mqtt]\nlisten = "nohost"\n', /the MQTT listener/],
      ['[[mqtt.acl]]\nuser = "a"\nsubscribe = ["a/#/b"]\n', /not a topic filter: a\/#\/b/],
      ['[[mqtt.acl]]\npublish = ["a"]\n', /needs a user/],
      ['[[mqtt.acl]]\nuser = "a"\ndeny_subscribe = ["a+"]\n', /deny_subscribe: not a topic filter: a\+/],
      ['[mqtt]\nmax_queued_bytes = -1\n', /mqtt\.max_queued_bytes must be an integer from 0/],
      ['[mqtt]\nwhat = 1\n', /unknown key mqtt\.what/]
    ]
    for (const [toml, message] of cases) {
      fs.writeFileSync(`${home}/bad.toml`, toml)
      const r = shoal.run(home, ['serve', '--config', `${home}/bad.toml`])
      assert.equal(r.code, 2, toml)
      assert.match(r.stderr, message)
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
})
