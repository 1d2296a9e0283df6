// What the MQTT broker keeps across a restart of `shoal serve`, stopped
// cleanly or killed with SIGKILL in the middle of writes: persistent
// sessions with their subscriptions and queued QoS 1 and 2 messages,
// retained messages and wills. Clients: mosquitto_pub/sub and MQTT.js.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const mqtt = require('mqtt')
const shoal = require('../shoal.js')

const { client } = shoal

// An MQTT.js client, connected. `onMessage` is attached before CONNECT goes:
// a resumed session's messages may come in the same read as the CONNACK.
function connect (port, options, onMessage) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect({ host: '127.0.0.1', port, reconnectPeriod: 0, connectTimeout: 5000, ...options })
    if (onMessage) c.on('message', onMessage)
    c.once('connect', (ack) => resolve({ c, ack }))
    c.once('error', reject)
  })
}

async function stop (node, signal) {
  node.child.kill(signal)
  await shoal.waitExit(node.child)
}

// Runs fn(node, restart) with `shoal serve` on a fresh home. restart(signal)
// stops the running node with `signal` (unless it has already exited) and
// resolves with a new one on the same home. The last node is stopped and
// the home removed at the end.
async function withRestarts (fn) {
  const home = shoal.tempHome()
  let current = await shoal.serve(home)
  const restart = async (signal) => {
    await stop(current, signal)
    current = await shoal.serve(home)
    return current
  }
  try {
    await fn(current, restart)
  } finally {
    await stop(current, 'SIGTERM')
    fs.rmSync(home, { recursive: true, force: true })
  }
}

test('a persistent session gets its messages after serve is restarted', async () => {
  await withRestarts(async (node, restart) => {
    let p = ['-p', String(node.mqttPort)]
    // 3.1.1, clean session off, and 5.0 with a session expiry interval.
    await client('mosquitto_sub', [...p, '-c', '-i', 'old', '-q', '2', '-t', 'jobs/#', '-W', '1'])
    await client('mosquitto_sub', [...p, '-V', 'mqttv5', '-c', '-i', 'new', '-x', '3600', '-q', '2',
      '-t', 'jobs/#', '-W', '1'])
    for (let i = 0; i < 6; i++) {
      const r = await client('mosquitto_pub', [...p, '-q', String(1 + (i % 2)), '-t', `jobs/${i}`, '-m', `j${i}`])
      assert.equal(r.code, 0, r.stderr)
    }
    assert.equal((await client('mosquitto_pub', [...p, '-r', '-q', '1', '-t', 'state/door', '-m', 'open'])).code, 0)
    node = await restart('SIGTERM')
    p = ['-p', String(node.mqttPort)]
    const want = ['jobs/0 j0', 'jobs/1 j1', 'jobs/2 j2', 'jobs/3 j3', 'jobs/4 j4', 'jobs/5 j5']
    let r = await client('mosquitto_sub', [...p, '-c', '-i', 'old', '-q', '2', '-t', 'jobs/#', '-v', '-C', '6', '-W', '5'])
    assert.deepEqual(r.stdout.trim().split('\n').sort(), want)
    r = await client('mosquitto_sub', [...p, '-V', 'mqttv5', '-c', '-i', 'new', '-x', '3600', '-q', '2',
      '-t', 'jobs/#', '-v', '-C', '6', '-W', '5'])
    assert.deepEqual(r.stdout.trim().split('\n').sort(), want)
    // Handed over once: a second visit finds nothing waiting.
    r = await client('mosquitto_sub', [...p, '-c', '-i', 'old', '-q', '2', '-t', 'jobs/#', '-v', '-W', '1'])
    assert.equal(r.stdout, '')
    r = await client('mosquitto_sub', [...p, '-t', 'state/#', '-v', '-C', '1', '-W', '5'])
    assert.equal(r.stdout.trim(), 'state/door open')
  })
})

test('no acknowledged message is lost when serve is killed in the middle of writes', async () => {
  await withRestarts(async (node, restart) => {
    // Two persistent subscribers: 5.0 and 3.1.1 (MQTT.js).
    for (const [clientId, protocolVersion, qos] of [['sub5', 5, 2], ['sub4', 4, 1]]) {
      const { c } = await connect(node.mqttPort, {
        clientId,
        protocolVersion,
        clean: false,
        properties: protocolVersion === 5 ? { sessionExpiryInterval: 3600 } : undefined
      })
      await c.subscribeAsync('load/#', { qos })
      await c.endAsync()
    }
    // Publish QoS 1 and 2 as fast as acknowledgements come back; kill the
    // node once 300 are acknowledged.
    const { c: pub } = await connect(node.mqttPort, { clientId: 'pub', protocolVersion: 5 })
    pub.on('error', () => {})
    const acked = new Set()
    let killed = false
    const sent = []
    for (let i = 0; i < 3000 && !killed; i++) {
      const payload = `m${i}`
      sent.push(new Promise((resolve) => {
        pub.publish(`load/${i % 7}`, payload, { qos: 1 + (i % 2) }, (err) => {
          if (!err) acked.add(payload)
          if (acked.size >= 300 && !killed) {
            killed = true
            node.child.kill('SIGKILL')
          }
          resolve()
        })
      }))
      // Keep about 50 in flight.
      if (sent.length % 50 === 0) await Promise.race([Promise.all(sent.slice(-50)), new Promise((resolve) => setTimeout(resolve, 2000))])
    }
    await shoal.waitExit(node.child)
    pub.end(true)
    assert.ok(acked.size >= 300, `only ${acked.size} acknowledged`)

    node = await restart('SIGKILL')  // killed already
    for (const [clientId, protocolVersion] of [['sub5', 5], ['sub4', 4]]) {
      const got = new Set()
      const { c, ack } = await connect(node.mqttPort, {
        clientId,
        protocolVersion,
        clean: false,
        properties: protocolVersion === 5 ? { sessionExpiryInterval: 3600 } : undefined
      }, (topic, payload) => got.add(payload.toString()))
      assert.equal(ack.sessionPresent, true)
      // Until every acknowledged message is in, or nothing new for 3 s.
      for (let last = -1; last !== got.size;) {
        last = got.size
        for (let t = 0; t < 30 && ![...acked].every((m) => got.has(m)); t++) {
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      const missing = [...acked].filter((m) => !got.has(m))
      assert.deepEqual(missing, [], `${clientId}: ${missing.length} of ${acked.size} acknowledged messages lost`)
      await c.endAsync()
    }
  })
})

test('a will is published after a restart when its client did not come back', async () => {
  await withRestarts(async (node, restart) => {
    // The watcher keeps its session; the device is connected when the node
    // is killed and does not come back.
    const { c: watcher } = await connect(node.mqttPort, { clientId: 'watcher', clean: false })
    await watcher.subscribeAsync('status/#', { qos: 1 })
    await watcher.endAsync()
    await connect(node.mqttPort, {
      clientId: 'device',
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 60 },
      will: { topic: 'status/device', payload: 'offline', qos: 1, retain: true, properties: { willDelayInterval: 1 } }
    })
    node = await restart('SIGKILL')
    const r = await client('mosquitto_sub', ['-p', String(node.mqttPort), '-c', '-i', 'watcher', '-q', '1',
      '-t', 'status/#', '-v', '-C', '1', '-W', '8'])
    assert.equal(r.stdout.trim(), 'status/device offline')
  })
})
