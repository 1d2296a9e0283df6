// The broker's features with MQTT.js (npm `mqtt`) and Python paho (Debian's
// python3-paho-mqtt, tests/integration/paho_check.py), each over TCP, over
// TLS (a certificate made with the openssl command line), and over WebSocket
// at /mqtt on the node's HTTP listener and on its HTTPS one.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const mqtt = require('mqtt')
const shoal = require('../shoal.js')

const PYTHON = '/usr/bin/python3'

let node, home, tlsPort
test.before(async () => {
  home = shoal.tempHome()
  shoal.makeCertificate(home)
  fs.writeFileSync(`${home}/shoal.toml`, `[tls]\ncert = "${home}/cert.pem"\nkey = "${home}/key.pem"\n`)
  node = await shoal.serve(home, ['--listen-mqtts', '127.0.0.1:0', '--listen-https', '127.0.0.1:0'])
  tlsPort = node.mqttsPort
})
test.after(async () => {
  node.child.kill('SIGTERM')
  await shoal.waitExit(node.child)
  fs.rmSync(home, { recursive: true, force: true })
})

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function url (transport) {
  if (transport === 'tcp') return `mqtt://127.0.0.1:${node.mqttPort}`
  if (transport === 'tls') return `mqtts://127.0.0.1:${tlsPort}`
  if (transport === 'wss') return node.https.replace('https://', 'wss://') + '/mqtt'
  return node.s3.replace('http://', 'ws://') + '/mqtt'
}

// A connected MQTT.js client that collects what it receives.
function open (transport, options = {}) {
  return new Promise((resolve, reject) => {
    const secure = transport === 'tls' || transport === 'wss'
    const tls = secure ? { ca: fs.readFileSync(`${home}/cert.pem`) } : {}
    const c = mqtt.connect(url(transport), {
      protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...tls, ...options
    })
    c.got = []
    c.on('message', (topic, payload, packet) => c.got.push({ topic, payload: payload.toString(), packet }))
    c.once('connect', (ack) => { c.connack = ack; resolve(c) })
    c.once('error', reject)
  })
}

// Waits until `c` has `n` messages (or 5 s pass); returns them.
async function received (c, n) {
  for (let i = 0; i < 100 && c.got.length < n; i++) await sleep(50)
  return c.got
}

for (const transport of ['tcp', 'tls', 'ws', 'wss']) {
  test(`${transport}: QoS 0, 1 and 2 end to end, empty and 1 MiB payloads`, async () => {
    const sub = await open(transport)
    await sub.subscribeAsync('q/#', { qos: 2 })
    const pub = await open(transport)
    const big = Buffer.alloc(1 << 20, 7)
    for (const qos of [0, 1, 2]) await pub.publishAsync(`q/${qos}`, `m${qos}`, { qos })
    await pub.publishAsync('q/empty', '', { qos: 1 })
    await pub.publishAsync('q/big', big, { qos: 2 })
    // (MQTT.js hands a QoS 2 message over only once PUBREL has come, so the
    // order may differ from the order of publishing.)
    const got = (await received(sub, 5)).sort((a, b) => a.topic.localeCompare(b.topic))
    assert.deepEqual(got.map((m) => [m.topic, m.packet.qos]), [['q/0', 0], ['q/1', 1], ['q/2', 2], ['q/big', 2], ['q/empty', 1]])
    assert.equal(got[3].packet.payload.length, big.length)
    assert.ok(got[3].packet.payload.equals(big))
    await Promise.all([sub.endAsync(), pub.endAsync()])
  })

  test(`${transport}: MQTT 5 properties travel with the message; subscription options and identifiers`, async () => {
    const sub = await open(transport)
    await sub.subscribeAsync('p/#', { qos: 1, properties: { subscriptionIdentifier: 7 } })
    await sub.subscribeAsync('p/+', { qos: 0, nl: true, properties: { subscriptionIdentifier: 9 } })
    const properties = {
      payloadFormatIndicator: true,
      contentType: 'application/json',
      responseTopic: 'reply/here',
      correlationData: Buffer.from('c0ffee', 'hex'),
      userProperties: { region: 'eu', shard: '3' },
      messageExpiryInterval: 60
    }
    await sub.publishAsync('p/own', '{"a":1}', { qos: 1, properties }) // no local: only via p/#
    const got = await received(sub, 1)
    await sleep(200)
    assert.equal(got.length, 1)
    const p = got[0].packet.properties
    assert.equal(p.payloadFormatIndicator, true)
    assert.equal(p.contentType, 'application/json')
    assert.equal(p.responseTopic, 'reply/here')
    assert.equal(Buffer.from(p.correlationData).toString('hex'), 'c0ffee')
    assert.deepEqual({ ...p.userProperties }, { region: 'eu', shard: '3' })
    assert.ok(p.messageExpiryInterval <= 60 && p.messageExpiryInterval >= 59)
    assert.deepEqual([p.subscriptionIdentifier].flat(), [7])
    // Another publisher: both subscriptions match, one copy carries both ids
    // at the higher QoS.
    const pub = await open(transport)
    await pub.publishAsync('p/x', 'hi', { qos: 1 })
    const two = await received(sub, 2)
    assert.equal(two.length, 2)
    assert.equal(two[1].packet.qos, 1)
    assert.deepEqual([two[1].packet.properties.subscriptionIdentifier].flat().sort(), [7, 9])
    await Promise.all([sub.endAsync(), pub.endAsync()])
  })

  test(`${transport}: retained messages, retain handling and retain as published`, async () => {
    const pub = await open(transport)
    await pub.publishAsync(`r/${transport}/a`, 'one', { qos: 1, retain: true })
    await pub.publishAsync(`r/${transport}/a`, 'two', { qos: 1, retain: true }) // replaces
    await pub.publishAsync(`r/${transport}/b`, 'gone', { qos: 1, retain: true })
    await pub.publishAsync(`r/${transport}/b`, '', { qos: 1, retain: true }) // clears
    const a = await open(transport)
    await a.subscribeAsync(`r/${transport}/#`, { qos: 1 })
    const got = await received(a, 1)
    await sleep(200)
    assert.deepEqual(got.map((m) => [m.topic, m.payload, m.packet.retain]), [[`r/${transport}/a`, 'two', true]])
    const none = await open(transport)
    await none.subscribeAsync(`r/${transport}/#`, { qos: 1, rh: 2, rap: true })
    await pub.publishAsync(`r/${transport}/c`, 'live', { qos: 1, retain: true })
    const live = await received(none, 1)
    await sleep(200)
    assert.deepEqual(live.map((m) => [m.topic, m.packet.retain]), [[`r/${transport}/c`, true]]) // rap keeps the flag
    const plain = a.got.find((m) => m.topic === `r/${transport}/c`)
    assert.equal(plain.packet.retain, false) // without rap it is cleared
    await pub.publishAsync(`r/${transport}/c`, '', { qos: 1, retain: true })
    await Promise.all([pub.endAsync(), a.endAsync(), none.endAsync()])
  })

  test(`${transport}: a will with a delay, and no will after DISCONNECT`, async () => {
    const watcher = await open(transport)
    await watcher.subscribeAsync(`will/${transport}/#`, { qos: 1 })
    const dying = await open(transport, {
      properties: { sessionExpiryInterval: 10 },
      will: { topic: `will/${transport}/dying`, payload: 'gone', qos: 1, properties: { willDelayInterval: 1 } }
    })
    const polite = await open(transport, { will: { topic: `will/${transport}/polite`, payload: 'never', qos: 1 } })
    await polite.endAsync()
    dying.stream.destroy() // no DISCONNECT
    await sleep(500)
    assert.equal(watcher.got.length, 0) // the delay has not passed
    const got = await received(watcher, 1)
    await sleep(200)
    assert.deepEqual(got.map((m) => [m.topic, m.payload]), [[`will/${transport}/dying`, 'gone']])
    await watcher.endAsync()
  })

  test(`${transport}: shared subscriptions split the messages`, async () => {
    const a = await open(transport)
    const b = await open(transport)
    await a.subscribeAsync(`$share/g/s/${transport}`, { qos: 1 })
    await b.subscribeAsync(`$share/g/s/${transport}`, { qos: 1 })
    const pub = await open(transport)
    for (let i = 0; i < 20; i++) await pub.publishAsync(`s/${transport}`, `${i}`, { qos: 1 })
    for (let i = 0; i < 100 && a.got.length + b.got.length < 20; i++) await sleep(50)
    const all = [...a.got, ...b.got].map((m) => Number(m.payload)).sort((x, y) => x - y)
    assert.deepEqual(all, [...Array(20).keys()])
    assert.ok(a.got.length > 0 && b.got.length > 0)
    await Promise.all([a.endAsync(), b.endAsync(), pub.endAsync()])
  })

  test(`${transport}: topic aliases both ways, and the client's maximum packet size`, async () => {
    const sub = await open(transport, { properties: { topicAliasMaximum: 5, maximumPacketSize: 200 } })
    await sub.subscribeAsync(`alias/${transport}/#`, { qos: 0 })
    const pub = await open(transport, { properties: { topicAliasMaximum: 5 }, autoUseTopicAlias: true })
    assert.ok(pub.connack.properties.topicAliasMaximum > 0)
    for (let i = 0; i < 3; i++) await pub.publishAsync(`alias/${transport}/long/topic/name`, `m${i}`, { qos: 1 })
    await pub.publishAsync(`alias/${transport}/big`, Buffer.alloc(500), { qos: 1 }) // over 200 for sub
    await pub.publishAsync(`alias/${transport}/after`, 'small', { qos: 1 })
    const got = await received(sub, 4)
    await sleep(200)
    // MQTT.js gives the topic back from the alias it was sent.
    assert.deepEqual(got.map((m) => m.topic), [0, 1, 2].map(() => `alias/${transport}/long/topic/name`).concat([`alias/${transport}/after`]))
    assert.ok(got.slice(1, 3).every((m) => m.packet.properties && m.packet.properties.topicAlias > 0))
    await Promise.all([sub.endAsync(), pub.endAsync()])
  })

  test(`${transport}: a persistent session, message expiry, and 3.1 and 3.1.1 clients`, async () => {
    const id = `keep-${transport}`
    let sub = await open(transport, { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } })
    await sub.subscribeAsync(`k/${transport}`, { qos: 1 })
    await sub.endAsync()
    const pub = await open(transport, { protocolVersion: 4 })
    await pub.publishAsync(`k/${transport}`, 'kept', { qos: 1 })
    const v5 = await open(transport)
    await v5.publishAsync(`k/${transport}`, 'expires', { qos: 1, properties: { messageExpiryInterval: 1 } })
    const old = await open(transport, { protocolVersion: 3, protocolId: 'MQIsdp' })
    await old.publishAsync(`k/${transport}`, 'from 3.1', { qos: 2 })
    await sleep(1500)
    sub = await open(transport, { clientId: id, clean: false, properties: { sessionExpiryInterval: 60 } })
    assert.equal(sub.connack.sessionPresent, true)
    const got = await received(sub, 2)
    await sleep(200)
    assert.deepEqual(got.map((m) => m.payload), ['kept', 'from 3.1'])
    await Promise.all([sub.endAsync(), pub.endAsync(), v5.endAsync(), old.endAsync()])
  })
}

test('tcp: failures come with reason strings (MQTT 5)', async () => {
  const c = await open('tcp')
  const disconnected = new Promise((resolve) => c.on('disconnect', resolve))
  // A second CONNECT, written under the client: DISCONNECT 0x82, explained.
  c.stream.write(Buffer.from([0x10, 0x10, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 2, 0, 60, 0, 0, 3, 0x61, 0x62, 0x63]))
  const packet = await disconnected
  assert.equal(packet.reasonCode, 0x82)
  assert.equal(packet.properties.reasonString, 'a second CONNECT')
  c.end(true)
})

test('ws: a bad handshake gets an HTTP error, and a text frame closes only its connection', async () => {
  const port = Number(node.s3.split(':').pop())
  const raw = (request) => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request))
    let out = ''
    s.on('data', (d) => { out += d.toString('latin1') })
    s.on('close', () => resolve(out))
    s.on('error', () => {})
    setTimeout(() => s.destroy(), 3000)
  })
  const base = 'GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
  let out = await raw(base + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n')
  assert.match(out, /^HTTP\/1.1 400 /)
  // A page from another site may not connect; one served from loopback may.
  out = await raw(base + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\nOrigin: https://evil.example\r\n\r\n')
  assert.match(out, /^HTTP\/1.1 403 /)
  out = await raw(base + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\nOrigin: http://localhost:3000\r\n\r\n')
  assert.match(out, /^HTTP\/1.1 101 /)
  out = await raw(base + 'Sec-WebSocket-Version: 8\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n')
  assert.match(out, /^HTTP\/1.1 426 /)
  assert.match(out, /Sec-WebSocket-Version: 13/i)
  const watcher = await open('ws')
  await watcher.subscribeAsync('alive', { qos: 0 })
  // A masked text frame after a good handshake: 101, then a close frame 1003.
  const text = Buffer.from([0x81, 0x81, 1, 2, 3, 4, 'x'.charCodeAt(0) ^ 1])
  out = await raw(Buffer.concat([Buffer.from(base + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n'), text]))
  assert.match(out, /^HTTP\/1.1 101 /)
  assert.ok(out.includes('s3pPLMBiTxaQ9kYGzzhZRbK+xOo='))
  assert.ok(out.endsWith('\x88\x02\x03\xeb'), JSON.stringify(out.slice(-8)))
  const pub = await open('tcp')
  await pub.publishAsync('alive', 'yes', { qos: 0 })
  assert.equal((await received(watcher, 1)).length, 1)
  await Promise.all([watcher.endAsync(), pub.endAsync()])
})

test('Python paho over TCP, WebSocket, TLS and secure WebSocket, 3.1.1 and 5.0', async () => {
  const script = path.join(__dirname, 'paho_check.py')
  const wsPort = node.s3.split(':').pop()
  const wssPort = node.https.split(':').pop()
  const r = await shoal.client(PYTHON, [script, String(node.mqttPort), wsPort, String(tlsPort),
    `${home}/cert.pem`, wssPort], 90000)
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const lines = r.stdout.trim().split('\n')
  // One line per transport and version, each "ok ...".
  assert.equal(lines.length, 8, r.stdout)
  for (const line of lines) assert.match(line, /^ok /)
})
