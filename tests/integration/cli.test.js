// The command line as a user scripts it: init, log commands, errors, and
// `shoal serve` holding the home while commands go through it.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const shoal = require('../shoal.js')

test('init, append, get, info, dump', () => {
  const home = shoal.tempHome()
  const seed = '11'.repeat(32)
  assert.match(shoal.ok(home, ['init', '--seed', seed]), /^home /)
  // Idempotent with the same seed, refused with another.
  shoal.ok(home, ['init', '--seed', seed])
  const other = shoal.run(home, ['init', '--seed', '22'.repeat(32)])
  assert.equal(other.code, 1)
  assert.match(other.stderr, /different master seed/)
  assert.equal(fs.statSync(home).mode & 0o777, 0o700)

  assert.equal(shoal.ok(home, ['log', 'append', 'notes', 'hello', 'world']), '2\n')
  assert.equal(shoal.ok(home, ['log', 'append', 'notes'], { input: 'a\nb\nc\n' }), '5\n')
  assert.equal(shoal.ok(home, ['log', 'append', 'notes', '--hex', '00ff']), '6\n')
  assert.equal(shoal.ok(home, ['log', 'get', 'notes', '1']), 'world')
  assert.deepEqual(shoal.run(home, ['log', 'get', 'notes', '5']).stdout, Buffer.from([0, 0xff]))
  const info = JSON.parse(shoal.ok(home, ['log', 'info', 'notes', '--json']))
  assert.equal(info.length, 6)
  assert.equal(info.byteLength, 15)
  assert.equal(info.fork, 0)
  assert.match(info.key, /^[0-9a-f]{64}$/)
  assert.equal(info.signature.length, 136)
  // The key works wherever a name does.
  assert.equal(shoal.ok(home, ['log', 'get', info.key, '0']), 'hello')
  assert.equal(shoal.ok(home, ['log', 'dump', 'notes']),
    ['68656c6c6f', '776f726c64', '61', '62', '63', '00ff'].join('\n') + '\n')
  shoal.ok(home, ['log', 'clear', 'notes', '1', '3'])
  assert.equal(shoal.ok(home, ['log', 'dump', 'notes']).split('\n')[1], '-')
  assert.match(shoal.ok(home, ['log', 'verify', 'notes']), /^ok 6 blocks/)
  fs.rmSync(home, { recursive: true, force: true })
})

test('bad input gets a one-line error and a non-zero exit', () => {
  const home = shoal.tempHome()
  const cases = [
    [['log', 'get', 'nope', '0'], 1, /no log named/],
    [['log', 'get', 'x'], 2, /index/i],
    [['log', 'get', 'nope', 'abc'], 1, /not a block index/],
    [['log', 'append', 'x', '--hex', 'zz'], 1, /not hex/],
    [['init', '--seed', 'abcd'], 1, /64 hex/],
    [['log', 'apply', '00'.repeat(32), 'ffff'], 1, /Malformed/],
    [['bogus'], 2, /./],
    [['log', 'truncate', 'x', '5'], 1, /./]
  ]
  shoal.ok(home, ['log', 'append', 'x', 'one'])
  for (const [args, code, message] of cases) {
    const r = shoal.run(home, args)
    assert.equal(r.code, code, args.join(' ') + ': ' + r.stderr)
    assert.match(r.stderr, message, args.join(' '))
  }
  fs.rmSync(home, { recursive: true, force: true })
})

test('serve holds the home; commands go through it; SIGTERM stops it cleanly', async () => {
  const home = shoal.tempHome()
  shoal.ok(home, ['log', 'append', 'a', 'before'])
  const server = await shoal.serve(home)
  try {
    assert.match(server.output(), new RegExp('^home ' + home.replace(/[/.]/g, '\\$&'), 'm'))
    const endpoints = JSON.parse(fs.readFileSync(path.join(home, 'endpoints.json'), 'utf8'))
    assert.match(endpoints.control, /^unix:.*shoal\.sock$/)
    assert.equal(fs.statSync(path.join(home, 'shoal.sock')).mode & 0o777, 0o600)
    // Commands reach the running node, including stdin and binary output.
    assert.equal(shoal.ok(home, ['log', 'append', 'a', 'during']), '2\n')
    assert.equal(shoal.ok(home, ['log', 'append', 'a'], { input: 'x\ny\n' }), '4\n')
    assert.equal(shoal.ok(home, ['log', 'get', 'a', '1']), 'during')
    const miss = shoal.run(home, ['log', 'get', 'a', '9'])
    assert.equal(miss.code, 1)
    assert.match(miss.stderr, /not stored/)
    // A second node on the same home is refused.
    const second = shoal.run(home, ['serve'])
    assert.equal(second.code, 1)
    assert.match(second.stderr, /in use/)
  } finally {
    server.child.kill('SIGTERM')
  }
  assert.equal(await shoal.waitExit(server.child), 0)
  assert.equal(fs.existsSync(path.join(home, 'endpoints.json')), false)
  // Everything acknowledged while serving is there afterwards.
  assert.equal(shoal.ok(home, ['log', 'dump', 'a']), ['before', 'during', 'x', 'y'].map((s) => Buffer.from(s).toString('hex')).join('\n') + '\n')
  fs.rmSync(home, { recursive: true, force: true })
})

test('a node killed with SIGKILL leaves a home the next commands open', async () => {
  const home = shoal.tempHome()
  const server = await shoal.serve(home)
  shoal.ok(home, ['log', 'append', 'k', 'kept'])
  server.child.kill('SIGKILL')
  await shoal.waitExit(server.child)
  // The stale socket is ignored; the command opens the home itself.
  assert.equal(shoal.ok(home, ['log', 'get', 'k', '0']), 'kept')
  fs.rmSync(home, { recursive: true, force: true })
})
