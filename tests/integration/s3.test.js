// The S3 API with real clients: Debian's aws-cli (/usr/bin/aws) and boto3
// (/usr/bin/python3), against `shoal serve` on a loopback port of its own.
'use strict'
const test = require('node:test')
const assert = require('node:assert')
const { spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const shoal = require('../shoal')

const { clientEnv, aws } = shoal
const PYTHON = '/usr/bin/python3'

// Runs a boto3 script; `client` is ready in it, and whatever it prints as its
// last line is parsed as JSON.
function boto (env, script) {
  const prelude = `
import json, os, sys, boto3, botocore
from botocore.config import Config
client = boto3.client('s3', endpoint_url=os.environ['S3_ENDPOINT'],
    config=Config(s3={'addressing_style': 'path'}, signature_version='s3v4',
                  retries={'max_attempts': 1}))
def code(fn):
    try:
        fn()
        return None
    except botocore.exceptions.ClientError as e:
        return [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
`
  const r = spawnSync(PYTHON, ['-c', prelude + script], { env, maxBuffer: 1 << 30 })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error('boto3 script failed: ' + r.stderr.toString())
  const lines = r.stdout.toString().trim().split('\n')
  return JSON.parse(lines[lines.length - 1])
}

// Runs `fn(home, server)` against a node serving a fresh home, stopped (it
// must exit 0) and removed afterwards. `toml` is written as its shoal.toml,
// `certificate` makes cert.pem and key.pem in it first, and `args` go to
// serve.
async function withServer (fn, { toml, certificate, args } = {}) {
  const home = shoal.tempHome()
  if (certificate) shoal.makeCertificate(home)
  if (toml) fs.writeFileSync(`${home}/shoal.toml`, toml)
  const server = await shoal.serve(home, args)
  try {
    assert.match(server.s3, /^http:\/\/127\.0\.0\.1:\d+$/)
    await fn(home, server)
  } finally {
    server.child.kill('SIGTERM')
    assert.equal(await shoal.waitExit(server.child), 0)
    fs.rmSync(home, { recursive: true, force: true })
  }
}

test('aws-cli: buckets, objects, listing, sync and removal', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    const endpoints = JSON.parse(fs.readFileSync(path.join(home, 'endpoints.json')))
    assert.equal(endpoints.s3, server.s3)
    assert.equal(fs.statSync(path.join(home, 'users.json')).mode & 0o777, 0o600)

    aws(env, ['s3', 'mb', 's3://photos'])
    assert.match(aws(env, ['s3', 'ls']).stdout, / photos$/m)

    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'shoal-s3-'))
    const files = {}
    for (const name of ['a.txt', 'sub/b.bin', 'sub/deeper/c.bin', 'empty']) {
      const data = name === 'empty' ? Buffer.alloc(0) : crypto.randomBytes(1000 + name.length * 5000)
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), data)
      files[name] = data
    }
    aws(env, ['s3', 'sync', dir, 's3://photos/trip'])
    const listing = aws(env, ['s3', 'ls', 's3://photos/trip/', '--recursive']).stdout
    for (const name of Object.keys(files)) assert.match(listing, new RegExp(' trip/' + name + '$', 'm'))
    // A second sync has nothing to do.
    assert.equal(aws(env, ['s3', 'sync', dir, 's3://photos/trip']).stdout.trim(), '')
    // Delimited listing: the top level shows the folder only.
    assert.match(aws(env, ['s3', 'ls', 's3://photos/trip/']).stdout, /PRE sub\//)

    const back = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'shoal-s3-back-'))
    aws(env, ['s3', 'sync', 's3://photos/trip', back])
    for (const [name, data] of Object.entries(files)) {
      assert.deepEqual(fs.readFileSync(path.join(back, name)), data, name)
    }
    assert.equal(aws(env, ['s3', 'cp', 's3://photos/trip/a.txt', '-']).stdout, files['a.txt'].toString())

    const rb = aws(env, ['s3', 'rb', 's3://photos'], { allowFail: true })
    assert.notEqual(rb.code, 0)
    assert.match(rb.stderr, /BucketNotEmpty/)
    aws(env, ['s3', 'rm', 's3://photos', '--recursive'])
    aws(env, ['s3', 'rb', 's3://photos'])
    assert.doesNotMatch(aws(env, ['s3', 'ls']).stdout, /photos/)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(back, { recursive: true, force: true })
  })
})

test('HTTPS: aws-cli and boto3 over TLS with the [tls] certificate, beside plain HTTP', async () => {
  const toml = '[tls]\ncert = "cert.pem"\nkey = "key.pem"\n'
  const args = ['--listen-https', '127.0.0.1:0', '--listen-mqtts', '127.0.0.1:0']
  await withServer(async (home, server) => {
    const dir = path.join(home, 'files')  // removed with the home
    fs.mkdirSync(dir)
    assert.match(server.https, /^https:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(JSON.parse(fs.readFileSync(path.join(home, 'endpoints.json'))).https, server.https)
    const env = { ...clientEnv(home, server.https), AWS_CA_BUNDLE: `${home}/cert.pem` }
    aws(env, ['s3', 'mb', 's3://secure'])
    // Over the multipart threshold (8 MiB): parts upload in parallel.
    const data = crypto.randomBytes(12 << 20)
    fs.writeFileSync(path.join(dir, 'big'), data)
    aws(env, ['s3', 'cp', path.join(dir, 'big'), 's3://secure/big'])
    aws(env, ['s3', 'cp', 's3://secure/big', path.join(dir, 'back')])
    assert.ok(fs.readFileSync(path.join(dir, 'back')).equals(data))
    const got = boto(env, `
client.put_object(Bucket='secure', Key='small', Body=b'over tls', Metadata={'k': 'v'})
r = client.get_object(Bucket='secure', Key='small', Range='bytes=5-7')
print(json.dumps([r['Body'].read().decode(), r['Metadata']]))`)
    assert.deepEqual(got, ['tls', { k: 'v' }])
    // The same store over plain HTTP.
    const plain = clientEnv(home, server.s3)
    assert.equal(aws(plain, ['s3', 'cp', 's3://secure/small', '-']).stdout, 'over tls')
    // A client that does not trust the certificate stops at the handshake.
    const { AWS_CA_BUNDLE, ...untrusting } = env
    const r = aws(untrusting, ['s3', 'ls'], { allowFail: true })
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /SSL validation failed|CERTIFICATE_VERIFY_FAILED/)
  }, { toml, certificate: true, args })
})

test('boto3: metadata, ranges, conditionals, listing past 1,000 keys, presigned GET', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    const r = boto(env, `
import hashlib, urllib.request, urllib.error
client.create_bucket(Bucket='docs')
body = bytes(range(256)) * 400
put = client.put_object(Bucket='docs', Key='dir/file.bin', Body=body, ContentType='application/x-test',
                        Metadata={'Colour': 'blue'}, CacheControl='no-cache')
head = client.head_object(Bucket='docs', Key='dir/file.bin')
etag = put['ETag']
rng = client.get_object(Bucket='docs', Key='dir/file.bin', Range='bytes=1000-1009')
tail = client.get_object(Bucket='docs', Key='dir/file.bin', Range='bytes=-5')
out = {
  'etag_is_md5': etag == '"' + hashlib.md5(body).hexdigest() + '"',
  'length': head['ContentLength'], 'type': head['ContentType'], 'meta': head['Metadata'],
  'cache': head.get('CacheControl'),
  'range': list(rng['Body'].read()), 'range_status': rng['ResponseMetadata']['HTTPStatusCode'],
  'content_range': rng['ContentRange'], 'tail': list(tail['Body'].read()),
  'whole_ok': client.get_object(Bucket='docs', Key='dir/file.bin')['Body'].read() == body,
  'not_modified': code(lambda: client.get_object(Bucket='docs', Key='dir/file.bin', IfNoneMatch=etag)),
  'precondition': code(lambda: client.get_object(Bucket='docs', Key='dir/file.bin', IfMatch='"nope"')),
  'unsatisfiable': code(lambda: client.get_object(Bucket='docs', Key='dir/file.bin', Range='bytes=999999-')),
  'no_key': code(lambda: client.get_object(Bucket='docs', Key='missing')),
  'no_bucket': code(lambda: client.get_object(Bucket='nobucket', Key='x')),
  'bad_name': code(lambda: client.create_bucket(Bucket='Bad_Name')),
  'again': code(lambda: client.create_bucket(Bucket='docs')),
  'kept': client.head_object(Bucket='docs', Key='dir/file.bin')['ContentLength'],
  'bad_md5': code(lambda: client.put_object(Bucket='docs', Key='x', Body=b'abc', ContentMD5='AAAAAAAAAAAAAAAAAAAAAA==')),
}
# 1,200 keys in two folders, listed 1,000 at a time and by delimiter.
for i in range(1200):
    client.put_object(Bucket='docs', Key='many/%s/%04d' % ('a' if i % 2 else 'b', i), Body=b'x')
keys, token = [], None
pages = 0
while True:
    kw = {'Bucket': 'docs', 'Prefix': 'many/'}
    if token: kw['ContinuationToken'] = token
    page = client.list_objects_v2(**kw)
    pages += 1
    keys += [o['Key'] for o in page.get('Contents', [])]
    if not page['IsTruncated']: break
    token = page['NextContinuationToken']
out['listed'] = len(keys)
out['sorted'] = keys == sorted(keys)
out['pages'] = pages
folders = client.list_objects_v2(Bucket='docs', Prefix='many/', Delimiter='/')
out['folders'] = [p['Prefix'] for p in folders.get('CommonPrefixes', [])]
v1 = client.list_objects(Bucket='docs', Prefix='many/a/', MaxKeys=7)
out['v1_truncated'] = v1['IsTruncated']
out['v1_count'] = len(v1['Contents'])
deleted = client.delete_objects(Bucket='docs', Delete={'Objects': [{'Key': k} for k in keys[:500]]})
out['deleted'] = len(deleted.get('Deleted', []))
out['left'] = client.list_objects_v2(Bucket='docs', Prefix='many/')['KeyCount']
url = client.generate_presigned_url('get_object', Params={'Bucket': 'docs', 'Key': 'dir/file.bin'}, ExpiresIn=60)
out['presigned_ok'] = urllib.request.urlopen(url).read() == body
try:
    sig = url.split('X-Amz-Signature=')[1][:64]
    urllib.request.urlopen(url.replace(sig, sig[:-1] + ('0' if sig[-1] != '0' else '1')))
    out['tampered'] = 200
except urllib.error.HTTPError as e:
    out['tampered'] = e.code
print(json.dumps(out))
`)
    assert.equal(r.etag_is_md5, true)
    assert.equal(r.length, 102400)
    assert.equal(r.type, 'application/x-test')
    assert.deepEqual(r.meta, { colour: 'blue' })
    assert.equal(r.cache, 'no-cache')
    assert.deepEqual(r.range, [232, 233, 234, 235, 236, 237, 238, 239, 240, 241])
    assert.equal(r.range_status, 206)
    assert.equal(r.content_range, 'bytes 1000-1009/102400')
    assert.deepEqual(r.tail, [251, 252, 253, 254, 255])
    assert.equal(r.whole_ok, true)
    assert.deepEqual(r.not_modified, ['304', 304])
    assert.deepEqual(r.precondition, ['PreconditionFailed', 412])
    assert.deepEqual(r.unsatisfiable, ['InvalidRange', 416])
    assert.deepEqual(r.no_key, ['NoSuchKey', 404])
    assert.deepEqual(r.no_bucket, ['NoSuchBucket', 404])
    assert.deepEqual(r.bad_name, ['InvalidBucketName', 400])
    assert.equal(r.again, null)  // as S3 in us-east-1: the owner may make it again
    assert.equal(r.kept, 102400)
    assert.deepEqual(r.bad_md5, ['BadDigest', 400])
    assert.equal(r.listed, 1200)
    assert.equal(r.sorted, true)
    assert.equal(r.pages, 2)
    assert.deepEqual(r.folders, ['many/a/', 'many/b/'])
    assert.equal(r.v1_truncated, true)
    assert.equal(r.v1_count, 7)
    assert.equal(r.deleted, 500)
    assert.equal(r.left, 700)
    assert.equal(r.presigned_ok, true)
    assert.equal(r.tampered, 403)
  })
})

test('authentication: wrong keys, anonymous requests and other users are refused', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    aws(env, ['s3', 'mb', 's3://mine'])
    const added = JSON.parse(shoal.ok(home, ['user', 'add', 'guest', '--json']))
    assert.match(added.accessKeyId, /^SH[A-Z0-9]{18}$/)
    const guest = clientEnv(home, server.s3, 'guest')
    assert.equal(guest.AWS_ACCESS_KEY_ID, added.accessKeyId)
    const denied = aws(guest, ['s3', 'ls', 's3://mine'], { allowFail: true })
    assert.match(denied.stderr, /AccessDenied/)
    aws(guest, ['s3', 'mb', 's3://theirs'])
    assert.doesNotMatch(aws(env, ['s3', 'ls']).stdout, /theirs/)
    const taken = aws(guest, ['s3', 'mb', 's3://mine'], { allowFail: true })
    assert.match(taken.stderr, /BucketAlreadyExists/)

    const wrong = { ...env, AWS_SECRET_ACCESS_KEY: 'x' + env.AWS_SECRET_ACCESS_KEY.slice(1) }
    assert.match(aws(wrong, ['s3', 'ls'], { allowFail: true }).stderr, /SignatureDoesNotMatch/)
    const unknown = { ...env, AWS_ACCESS_KEY_ID: 'SHNOSUCHKEY000000000' }
    assert.match(aws(unknown, ['s3', 'ls'], { allowFail: true }).stderr, /InvalidAccessKeyId/)
    const anonymous = aws(env, ['s3', 'ls', 's3://mine', '--no-sign-request'], { allowFail: true })
    assert.match(anonymous.stderr, /AccessDenied/)
  })
})

test('multipart: aws s3 cp of 100 MiB, and boto3 parts, listing, abort and errors', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    aws(env, ['s3', 'mb', 's3://big'])
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'shoal-s3-big-'))
    const file = path.join(dir, 'big.bin')
    const data = crypto.randomBytes(100 << 20)
    fs.writeFileSync(file, data)
    aws(env, ['s3', 'cp', file, 's3://big/big.bin', '--only-show-errors'])
    const head = JSON.parse(aws(env, ['s3api', 'head-object', '--bucket', 'big', '--key', 'big.bin']).stdout)
    assert.equal(head.ContentLength, 100 << 20)
    assert.match(head.ETag, /^"[0-9a-f]{32}-\d+"$/)
    aws(env, ['s3', 'cp', 's3://big/big.bin', path.join(dir, 'back.bin'), '--only-show-errors'])
    assert.ok(data.equals(fs.readFileSync(path.join(dir, 'back.bin'))))
    fs.rmSync(dir, { recursive: true, force: true })

    const r = boto(env, `
import hashlib
part = bytes([7]) * (5 << 20)
up = client.create_multipart_upload(Bucket='big', Key='parts.bin', ContentType='text/x-parts', Metadata={'k': 'v'})
uid = up['UploadId']
e1 = client.upload_part(Bucket='big', Key='parts.bin', UploadId=uid, PartNumber=1, Body=part)['ETag']
e2 = client.upload_part(Bucket='big', Key='parts.bin', UploadId=uid, PartNumber=2, Body=b'tail')['ETag']
listed = client.list_parts(Bucket='big', Key='parts.bin', UploadId=uid)
uploads = client.list_multipart_uploads(Bucket='big')
out = {
  'parts': [(p['PartNumber'], p['Size']) for p in listed['Parts']],
  'uploads': [u['Key'] for u in uploads.get('Uploads', [])],
  'invisible': client.list_objects_v2(Bucket='big', Prefix='parts')['KeyCount'],
  'bad_etag': code(lambda: client.complete_multipart_upload(Bucket='big', Key='parts.bin', UploadId=uid,
      MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': '"00"'}, {'PartNumber': 2, 'ETag': e2}]})),
  'order': code(lambda: client.complete_multipart_upload(Bucket='big', Key='parts.bin', UploadId=uid,
      MultipartUpload={'Parts': [{'PartNumber': 2, 'ETag': e2}, {'PartNumber': 1, 'ETag': e1}]})),
}
small = client.create_multipart_upload(Bucket='big', Key='small.bin')['UploadId']
s1 = client.upload_part(Bucket='big', Key='small.bin', UploadId=small, PartNumber=1, Body=b'a')['ETag']
s2 = client.upload_part(Bucket='big', Key='small.bin', UploadId=small, PartNumber=2, Body=b'b')['ETag']
out['too_small'] = code(lambda: client.complete_multipart_upload(Bucket='big', Key='small.bin', UploadId=small,
    MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': s1}, {'PartNumber': 2, 'ETag': s2}]}))
client.abort_multipart_upload(Bucket='big', Key='small.bin', UploadId=small)
out['aborted'] = code(lambda: client.list_parts(Bucket='big', Key='small.bin', UploadId=small))
done = client.complete_multipart_upload(Bucket='big', Key='parts.bin', UploadId=uid,
    MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': e1}, {'PartNumber': 2, 'ETag': e2}]})
want = hashlib.md5(hashlib.md5(part).digest() + hashlib.md5(b'tail').digest()).hexdigest() + '-2'
obj = client.get_object(Bucket='big', Key='parts.bin')
out['etag_ok'] = done['ETag'] == '"' + want + '"' and obj['ETag'] == done['ETag']
out['body_ok'] = obj['Body'].read() == part + b'tail'
out['type'] = obj['ContentType']
out['meta'] = obj['Metadata']
out['range'] = client.get_object(Bucket='big', Key='parts.bin', Range='bytes=%d-%d' % ((5 << 20) - 2, (5 << 20) + 1))['Body'].read().decode('latin1')
out['gone'] = code(lambda: client.list_parts(Bucket='big', Key='parts.bin', UploadId=uid))
print(json.dumps(out))
`)
    assert.deepEqual(r.parts, [[1, 5 << 20], [2, 4]])
    assert.deepEqual(r.uploads, ['parts.bin'])
    assert.equal(r.invisible, 0)
    assert.deepEqual(r.bad_etag, ['InvalidPart', 400])
    assert.deepEqual(r.order, ['InvalidPartOrder', 400])
    assert.deepEqual(r.too_small, ['EntityTooSmall', 400])
    assert.deepEqual(r.aborted, ['NoSuchUpload', 404])
    assert.equal(r.etag_ok, true)
    assert.equal(r.body_ok, true)
    assert.equal(r.type, 'text/x-parts')
    assert.deepEqual(r.meta, { k: 'v' })
    assert.equal(r.range, '\x07\x07ta')
    assert.deepEqual(r.gone, ['NoSuchUpload', 404])
  })
})

test('copy: in a bucket, across buckets, metadata directives, part copies', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    const r = boto(env, `
client.create_bucket(Bucket='src')
client.create_bucket(Bucket='dst')
body = bytes(range(256)) * 100
client.put_object(Bucket='src', Key='a b/orig.bin', Body=body, ContentType='x/orig', Metadata={'m': '1'})
c1 = client.copy_object(Bucket='src', Key='copy.bin', CopySource={'Bucket': 'src', 'Key': 'a b/orig.bin'})
h1 = client.head_object(Bucket='src', Key='copy.bin')
c2 = client.copy_object(Bucket='dst', Key='other.bin', CopySource='src/a b/orig.bin',
                        MetadataDirective='REPLACE', ContentType='x/new', Metadata={'n': '2'})
h2 = client.head_object(Bucket='dst', Key='other.bin')
out = {
  'etag_kept': c1['CopyObjectResult']['ETag'] == h1['ETag'],
  'meta_copied': [h1['ContentType'], h1['Metadata']],
  'meta_replaced': [h2['ContentType'], h2['Metadata']],
  'bytes_ok': client.get_object(Bucket='dst', Key='other.bin')['Body'].read() == body,
  'self': code(lambda: client.copy_object(Bucket='src', Key='copy.bin', CopySource='src/copy.bin')),
  'missing': code(lambda: client.copy_object(Bucket='src', Key='x', CopySource='src/nothing')),
  'cond': code(lambda: client.copy_object(Bucket='src', Key='x', CopySource='src/copy.bin', CopySourceIfMatch='"nope"')),
}
client.delete_object(Bucket='src', Key='a b/orig.bin')
out['copy_survives_delete'] = client.get_object(Bucket='src', Key='copy.bin')['Body'].read() == body
big = bytes([9]) * (6 << 20)
client.put_object(Bucket='src', Key='big', Body=big)
uid = client.create_multipart_upload(Bucket='dst', Key='joined')['UploadId']
p1 = client.upload_part_copy(Bucket='dst', Key='joined', UploadId=uid, PartNumber=1, CopySource='src/big',
                             CopySourceRange='bytes=0-%d' % ((5 << 20) - 1))['CopyPartResult']['ETag']
p2 = client.upload_part_copy(Bucket='dst', Key='joined', UploadId=uid, PartNumber=2, CopySource='src/copy.bin',
                             CopySourceRange='bytes=0-9')['CopyPartResult']['ETag']
client.complete_multipart_upload(Bucket='dst', Key='joined', UploadId=uid,
    MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': p1}, {'PartNumber': 2, 'ETag': p2}]})
out['joined_ok'] = client.get_object(Bucket='dst', Key='joined')['Body'].read() == big[:5 << 20] + body[:10]
print(json.dumps(out))
`)
    assert.equal(r.etag_kept, true)
    assert.deepEqual(r.meta_copied, ['x/orig', { m: '1' }])
    assert.deepEqual(r.meta_replaced, ['x/new', { n: '2' }])
    assert.equal(r.bytes_ok, true)
    assert.deepEqual(r.self, ['InvalidRequest', 400])
    assert.deepEqual(r.missing, ['NoSuchKey', 404])
    assert.deepEqual(r.cond, ['PreconditionFailed', 412])
    assert.equal(r.copy_survives_delete, true)
    assert.equal(r.joined_ok, true)
  })
})

// Deterministic object bytes for a key, the same in both scripts below.
const CONTENT_PY = `
import hashlib
def content(key):
    seed = hashlib.sha256(key.encode()).digest()
    size = 1000 + int.from_bytes(seed[:4], 'big') % 300000
    return (seed * (size // 32 + 1))[:size]
`

test('durability: every acknowledged PUT survives 20 SIGKILLs, and no half-written object shows', async () => {
  const home = shoal.tempHome()
  const { spawn } = require('node:child_process')
  const acked = []
  try {
    for (let round = 0; round < 20; round++) {
      const server = await shoal.serve(home)
      const env = clientEnv(home, server.s3)
      if (round === 0) aws(env, ['s3', 'mb', 's3://crash'])
      // A writer that PUTs until the node dies, printing each key that got a 200.
      const writer = spawn(PYTHON, ['-c', `
import os, sys, boto3
from botocore.config import Config
${CONTENT_PY}
client = boto3.client('s3', endpoint_url=os.environ['S3_ENDPOINT'],
    config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}, connect_timeout=2, read_timeout=5))
i = 0
while i < 5000:
    key = 'r%02d/%05d' % (${round}, i)
    try:
        client.put_object(Bucket='crash', Key=key, Body=content(key))
    except Exception:
        break
    print(key, flush=True)
    i += 1
`], { env, stdio: ['ignore', 'pipe', 'ignore'] })
      let out = ''
      writer.stdout.on('data', (d) => { out += d })
      const writerDone = new Promise((resolve) => writer.on('exit', resolve))
      await new Promise((resolve) => setTimeout(resolve, 700 + Math.floor(Math.random() * 800)))
      server.child.kill('SIGKILL')
      await shoal.waitExit(server.child)
      await writerDone
      acked.push(...out.split('\n').filter((l) => l.length > 0))
    }
    assert.ok(acked.length > 100, 'the writers made progress: ' + acked.length)
    console.log(`durability: ${acked.length} acknowledged PUTs over 20 kills`)
    const ackedFile = path.join(home, 'acked.json')
    fs.writeFileSync(ackedFile, JSON.stringify(acked))

    const server = await shoal.serve(home)
    try {
      const env = { ...clientEnv(home, server.s3), ACKED_FILE: ackedFile }
      const r = boto(env, `
${CONTENT_PY}
acked = set(json.load(open(os.environ['ACKED_FILE'])))
listed = []
token = None
while True:
    kw = {'Bucket': 'crash'}
    if token: kw['ContinuationToken'] = token
    page = client.list_objects_v2(**kw)
    listed += [(o['Key'], o['Size']) for o in page.get('Contents', [])]
    if not page['IsTruncated']: break
    token = page['NextContinuationToken']
bad = []
for key, size in listed:
    body = client.get_object(Bucket='crash', Key=key)['Body'].read()
    if body != content(key) or size != len(body):
        bad.append(key)
names = set(k for k, _ in listed)
print(json.dumps({'listed': len(listed), 'missing': sorted(acked - names)[:10], 'bad': bad[:10]}))
`)
      assert.deepEqual(r.missing, [], 'acknowledged PUTs lost')
      assert.deepEqual(r.bad, [], 'objects that are not whole')
      assert.ok(r.listed >= acked.length)
    } finally {
      server.child.kill('SIGTERM')
      assert.equal(await shoal.waitExit(server.child), 0)
    }
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
})

test('bad input: each gets its S3 error or a clean close, and the node keeps serving', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    const r = boto(env, `
import http.client, socket, time, hashlib, urllib.parse, urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
creds = Credentials(os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_SECRET_ACCESS_KEY'])
ep = urllib.parse.urlparse(os.environ['S3_ENDPOINT'])
client.create_bucket(Bucket='bad')

def signed(method, path, body=b'', headers=None, payload=None):
    h = dict(headers or {})
    h['x-amz-content-sha256'] = payload or hashlib.sha256(body).hexdigest()
    req = AWSRequest(method=method, url=os.environ['S3_ENDPOINT'] + path, data=body, headers=h)
    SigV4Auth(creds, 's3', 'us-east-1').add_auth(req)
    return req

def send(req, body=None):
    c = http.client.HTTPConnection(ep.hostname, ep.port, timeout=10)
    c.request(req.method, urllib.parse.urlparse(req.url).path + ('?' + urllib.parse.urlparse(req.url).query if urllib.parse.urlparse(req.url).query else ''),
              body=req.body if body is None else body, headers=dict(req.headers.items()))
    resp = c.getresponse()
    data = resp.read().decode('utf-8', 'replace')
    c.close()
    code = data.split('<Code>')[1].split('</Code>')[0] if '<Code>' in data else ''
    return [resp.status, code]

def raw(data, read=True):
    s = socket.create_connection((ep.hostname, ep.port), timeout=10)
    s.sendall(data)
    out = b''
    if read:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                out += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    s.close()
    return out.decode('latin1')

out = {}
xml = b'<Delete><Object><Key>a</Key></Object'
md5 = __import__('base64').b64encode(hashlib.md5(xml).digest()).decode()
out['malformed_delete'] = send(signed('POST', '/bad?delete', xml, {'Content-MD5': md5}))
uid = client.create_multipart_upload(Bucket='bad', Key='mp')['UploadId']
out['malformed_complete'] = send(signed('POST', '/bad/mp?uploadId=' + uid, b'<Complete'))
out['sha_mismatch'] = send(signed('PUT', '/bad/sha', b'actual body', payload=hashlib.sha256(b'other').hexdigest()))
out['sha_absent'] = code(lambda: client.head_object(Bucket='bad', Key='sha'))
# Signed correctly, but for a date years ago.
skew = AWSRequest(method='GET', url=os.environ['S3_ENDPOINT'] + '/bad', headers={'x-amz-content-sha256': hashlib.sha256(b'').hexdigest()})
class Old(SigV4Auth):
    def _modify_request_before_signing(self, request):
        super()._modify_request_before_signing(request)
        del request.headers['X-Amz-Date']
        request.headers['X-Amz-Date'] = '20200101T000000Z'
    def add_auth(self, request):
        request.context['timestamp'] = '20200101T000000Z'
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        sts = self.string_to_sign(request, canonical)
        sig = self.signature(sts, request)
        self._inject_signature_to_request(request, sig)
Old(creds, 's3', 'us-east-1').add_auth(skew)
out['skewed'] = send(skew)

client.put_object(Bucket='bad', Key='p', Body=b'x')
url = client.generate_presigned_url('get_object', Params={'Bucket': 'bad', 'Key': 'p'}, ExpiresIn=1)
time.sleep(2.2)
try:
    urllib.request.urlopen(url)
    out['expired'] = 200
except urllib.error.HTTPError as e:
    out['expired'] = [e.code, e.read().decode().split('<Code>')[1].split('</Code>')[0]]

# A client that promises 100,000 bytes, sends 1,000 and goes away.
partial = signed('PUT', '/bad/partial', b'', payload='UNSIGNED-PAYLOAD')
head = 'PUT /bad/partial HTTP/1.1\\r\\n' + ''.join('%s: %s\\r\\n' % (k, v) for k, v in partial.headers.items() if k.lower() != 'content-length')
raw((head + 'Content-Length: 100000\\r\\n\\r\\n').encode() + b'z' * 1000, read=False)
time.sleep(0.3)
out['partial_absent'] = code(lambda: client.head_object(Bucket='bad', Key='partial'))
out['bad_length'] = raw(b'PUT /bad/x HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: abc\\r\\n\\r\\n').split('\\r\\n')[0]
out['huge_header'] = raw(b'GET /bad HTTP/1.1\\r\\nHost: a\\r\\nX-Big: ' + b'a' * (100 << 10) + b'\\r\\n\\r\\n').split('\\r\\n')[0]
out['garbage'] = raw(b'\\x00\\x01\\x02 nonsense\\r\\n\\r\\n').split('\\r\\n')[0]
out['bad_bucket'] = code(lambda: client.create_bucket(Bucket='a..b'))
out['bad_bucket_ip'] = code(lambda: client.create_bucket(Bucket='192.168.1.1'))
out['still_serving'] = client.get_object(Bucket='bad', Key='p')['Body'].read().decode()
print(json.dumps(out))
`)
    assert.deepEqual(r.malformed_delete, [400, 'MalformedXML'])
    assert.deepEqual(r.malformed_complete, [400, 'MalformedXML'])
    assert.deepEqual(r.sha_mismatch, [400, 'XAmzContentSHA256Mismatch'])
    assert.deepEqual(r.sha_absent, ['404', 404])
    assert.deepEqual(r.skewed, [403, 'RequestTimeTooSkewed'])
    assert.deepEqual(r.expired, [403, 'AccessDenied'])
    assert.deepEqual(r.partial_absent, ['404', 404])
    assert.equal(r.bad_length, 'HTTP/1.1 400 Bad Request')
    assert.equal(r.huge_header, 'HTTP/1.1 431 Request Header Fields Too Large')
    assert.equal(r.garbage, 'HTTP/1.1 400 Bad Request')
    assert.deepEqual(r.bad_bucket, ['InvalidBucketName', 400])
    assert.deepEqual(r.bad_bucket_ip, ['InvalidBucketName', 400])
    assert.equal(r.still_serving, 'x')
  })
})

test('aws-chunked: signed chunks and an unsigned body with a trailing checksum', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    const r = boto(env, `
import hashlib, hmac, http.client, urllib.parse, base64
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
creds = Credentials(os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_SECRET_ACCESS_KEY'])
ep = urllib.parse.urlparse(os.environ['S3_ENDPOINT'])
client.create_bucket(Bucket='chunks')
data = bytes(range(256)) * 300  # 76,800 bytes: chunks of 65,536 and 11,264

def put(key, mode, make_body, tamper=False):
    req = AWSRequest(method='PUT', url=os.environ['S3_ENDPOINT'] + '/chunks/' + key, headers={
        'x-amz-content-sha256': mode, 'Content-Encoding': 'aws-chunked',
        'x-amz-decoded-content-length': str(len(data))})
    SigV4Auth(creds, 's3', 'us-east-1').add_auth(req)
    auth = req.headers['Authorization']
    seed = auth.split('Signature=')[1]
    date = req.headers['X-Amz-Date']
    scope = date[:8] + '/us-east-1/s3/aws4_request'
    def h(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()
    key_bytes = h(h(h(h(('AWS4' + creds.secret_key).encode(), date[:8]), 'us-east-1'), 's3'), 'aws4_request')
    body = make_body(seed, date, scope, key_bytes)
    if tamper: body = body.replace(b'\\x05\\x06\\x07', b'\\x05\\x06\\x08', 1)
    c = http.client.HTTPConnection(ep.hostname, ep.port, timeout=10)
    headers = dict(req.headers.items())
    headers['Content-Length'] = str(len(body))
    c.request('PUT', '/chunks/' + key, body=body, headers=headers)
    resp = c.getresponse()
    text = resp.read().decode()
    return [resp.status, text.split('<Code>')[1].split('</Code>')[0] if '<Code>' in text else '']

def signed(seed, date, scope, key):
    prev, out = seed, b''
    for piece in [data[:65536], data[65536:], b'']:
        sts = '\\n'.join(['AWS4-HMAC-SHA256-PAYLOAD', date, scope, prev, hashlib.sha256(b'').hexdigest(), hashlib.sha256(piece).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += ('%x;chunk-signature=%s\\r\\n' % (len(piece), sig)).encode() + piece + b'\\r\\n'
        prev = sig
    return out

def unsigned_trailer(seed, date, scope, key):
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return b'%x\\r\\n' % 65536 + data[:65536] + b'\\r\\n' + b'%x\\r\\n' % (len(data) - 65536) + data[65536:] + \\
        b'\\r\\n0\\r\\nx-amz-checksum-sha256:' + digest.encode() + b'\\r\\n\\r\\n'

out = {
  'signed': put('signed', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', signed),
  'tampered': put('tampered', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', signed, tamper=True),
  'trailer': put('trailer', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', unsigned_trailer),
}
out['signed_ok'] = client.get_object(Bucket='chunks', Key='signed')['Body'].read() == data
out['trailer_ok'] = client.get_object(Bucket='chunks', Key='trailer')['Body'].read() == data
out['tampered_absent'] = code(lambda: client.head_object(Bucket='chunks', Key='tampered'))
print(json.dumps(out))
`)
    assert.deepEqual(r.signed, [200, ''])
    assert.deepEqual(r.tampered, [403, 'SignatureDoesNotMatch'])
    assert.deepEqual(r.trailer, [200, ''])
    assert.equal(r.signed_ok, true)
    assert.equal(r.trailer_ok, true)
    assert.deepEqual(r.tampered_absent, ['404', 404])
  })
})

test('shards: every object answer carries its shard, and the hash can be recomputed', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    const r = boto(env, `
import hashlib
def cstr(s):
    b = s.encode()
    assert len(b) < 0xfd
    return bytes([len(b)]) + b
def shard_of(bucket, key):
    h = hashlib.blake2b(cstr(bucket) + cstr(key), digest_size=32).digest()
    return ((h[0] << 8) | h[1]) & 0x7fff
def entry_hash(bucket, key, etag):
    return hashlib.blake2b(cstr(bucket) + cstr(key) + cstr(etag), digest_size=32).digest()
def xor(a, b): return bytes(x ^ y for x, y in zip(a, b))
def hdrs(resp):
    h = resp['ResponseMetadata']['HTTPHeaders']
    return int(h['x-shoal-shard']), h['x-shoal-shard-hash'], int(h['x-shoal-shard-writes']), int(h['x-shoal-shard-time'])
client.create_bucket(Bucket='shards')
put = client.put_object(Bucket='shards', Key='k1', Body=b'one')
shard, h1, w1, t1 = hdrs(put)
etag = put['ETag'].strip('"')
out = {'shard_ok': shard == shard_of('shards', 'k1'),
       'hash_ok': bytes.fromhex(h1) == xor(bytes(32), entry_hash('shards', 'k1', etag)),
       'writes': w1,
       'head_same': hdrs(client.head_object(Bucket='shards', Key='k1'))[:3] == (shard, h1, w1),
       'get_same': hdrs(client.get_object(Bucket='shards', Key='k1'))[:3] == (shard, h1, w1)}
# Another key in the same shard: its hash joins by XOR; deleting it restores the first.
other = next(k for k in ('x%d' % i for i in range(200000)) if shard_of('shards', k) == shard)
p2 = client.put_object(Bucket='shards', Key=other, Body=b'two')
_, h2, w2, _ = hdrs(p2)
out['joined'] = bytes.fromhex(h2) == xor(bytes.fromhex(h1), entry_hash('shards', other, p2['ETag'].strip('"')))
client.delete_object(Bucket='shards', Key=other)
_, h3, w3, _ = hdrs(client.head_object(Bucket='shards', Key='k1'))
out['restored'] = h3 == h1
out['writes_after'] = [w2, w3]
print(json.dumps(out))
`)
    assert.equal(r.shard_ok, true)
    assert.equal(r.hash_ok, true)
    assert.equal(r.writes, 1)
    assert.equal(r.head_same, true)
    assert.equal(r.get_same, true)
    assert.equal(r.joined, true)
    assert.equal(r.restored, true)
    assert.deepEqual(r.writes_after, [2, 3])
  })
})

test('s3cmd and rclone: buckets, uploads, listing, downloads, removal', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    const hostPort = server.s3.replace('http://', '')
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'shoal-s3-tools-'))
    const cfg = path.join(dir, 's3cfg')
    fs.writeFileSync(cfg, [
      '[default]', `access_key = ${env.AWS_ACCESS_KEY_ID}`, `secret_key = ${env.AWS_SECRET_ACCESS_KEY}`,
      `host_base = ${hostPort}`, `host_bucket = ${hostPort}`, 'use_https = False', 'signature_v2 = False',
      'bucket_location = us-east-1', ''].join('\n'))
    const s3cmd = (args) => {
      const r = spawnSync('/usr/bin/s3cmd', ['-c', cfg, ...args], { env })
      if (r.status !== 0) throw new Error(`s3cmd ${args.join(' ')}: ${r.stderr}`)
      return r.stdout.toString()
    }
    const file = path.join(dir, 'f.bin')
    const data = crypto.randomBytes(300000)
    fs.writeFileSync(file, data)
    s3cmd(['mb', 's3://tools'])
    s3cmd(['put', file, 's3://tools/s3cmd/f.bin'])
    assert.match(s3cmd(['ls', 's3://tools/s3cmd/']), /300000 +s3:\/\/tools\/s3cmd\/f\.bin/)
    s3cmd(['get', 's3://tools/s3cmd/f.bin', path.join(dir, 'back1.bin')])
    assert.ok(data.equals(fs.readFileSync(path.join(dir, 'back1.bin'))))

    const rcloneEnv = {
      ...env,
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_SHOAL_TYPE: 's3',
      RCLONE_CONFIG_SHOAL_PROVIDER: 'Other',
      RCLONE_CONFIG_SHOAL_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
      RCLONE_CONFIG_SHOAL_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
      RCLONE_CONFIG_SHOAL_ENDPOINT: server.s3,
      RCLONE_CONFIG_SHOAL_FORCE_PATH_STYLE: 'true'
    }
    const rclone = (args) => {
      const r = spawnSync('/usr/bin/rclone', args, { env: rcloneEnv })
      if (r.status !== 0) throw new Error(`rclone ${args.join(' ')}: ${r.stderr}`)
      return r.stdout.toString()
    }
    fs.mkdirSync(path.join(dir, 'tree', 'sub'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'tree', 'a.txt'), 'alpha')
    fs.writeFileSync(path.join(dir, 'tree', 'sub', 'b.txt'), 'beta')
    rclone(['copy', path.join(dir, 'tree'), 'shoal:tools/rclone'])
    assert.deepEqual(rclone(['lsf', '-R', 'shoal:tools/rclone']).trim().split('\n').sort(), ['a.txt', 'sub/', 'sub/b.txt'])
    rclone(['check', path.join(dir, 'tree'), 'shoal:tools/rclone'])
    assert.equal(rclone(['cat', 'shoal:tools/rclone/sub/b.txt']), 'beta')
    rclone(['purge', 'shoal:tools/rclone'])
    s3cmd(['del', 's3://tools/s3cmd/f.bin'])
    s3cmd(['rb', 's3://tools'])
    assert.doesNotMatch(s3cmd(['ls']), /tools/)
    fs.rmSync(dir, { recursive: true, force: true })
  })
})

test('addressing: virtual-host style and a presigned GET with curl', async () => {
  await withServer(async (home, server) => {
    const env = clientEnv(home, server.s3)
    const r = boto(env, `
import http.client, urllib.parse, hashlib
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
creds = Credentials(os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_SECRET_ACCESS_KEY'])
port = urllib.parse.urlparse(os.environ['S3_ENDPOINT']).port
client.create_bucket(Bucket='vhost')
client.put_object(Bucket='vhost', Key='dir/a.txt', Body=b'by host')
# Signed for http://vhost.localhost:PORT/dir/a.txt, sent to 127.0.0.1.
req = AWSRequest(method='GET', url='http://vhost.localhost:%d/dir/a.txt' % port,
                 headers={'x-amz-content-sha256': hashlib.sha256(b'').hexdigest()})
SigV4Auth(creds, 's3', 'us-east-1').add_auth(req)
c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
headers = dict(req.headers.items())
headers['Host'] = 'vhost.localhost:%d' % port  # what the signature covers
c.request('GET', '/dir/a.txt', headers=headers)
resp = c.getresponse()
out = {'status': resp.status, 'body': resp.read().decode()}
out['url'] = client.generate_presigned_url('get_object', Params={'Bucket': 'vhost', 'Key': 'dir/a.txt'}, ExpiresIn=60)
print(json.dumps(out))
`)
    assert.equal(r.status, 200)
    assert.equal(r.body, 'by host')
    const curl = spawnSync('/usr/bin/curl', ['-s', '-f', r.url])
    assert.equal(curl.status, 0, curl.stderr.toString())
    assert.equal(curl.stdout.toString(), 'by host')
    const tampered = spawnSync('/usr/bin/curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', r.url.replace('dir%2Fa.txt', 'dir/b.txt').replace('/dir/a.txt', '/dir/b.txt')])
    assert.equal(tampered.stdout.toString(), '403')
  })
})

test('shoal.toml: settings from the home or --config, flags first, mistakes refused', async () => {
  const home = shoal.tempHome()
  try {
    fs.writeFileSync(path.join(home, 'shoal.toml'), '[s3]\nlisten = "127.0.0.1:0"\nregion = "eu-test-1"\n')
    const server = await shoal.serve(home, ['--config', path.join(home, 'shoal.toml')])
    try {
      const env = clientEnv(home, server.s3)
      aws(env, ['s3', 'mb', 's3://configured'])
      const head = aws(env, ['s3api', 'head-bucket', '--bucket', 'configured', '--debug'])
      assert.match(head.stderr, /x-amz-bucket-region': 'eu-test-1'/)
    } finally {
      server.child.kill('SIGTERM')
      await shoal.waitExit(server.child)
    }
    fs.writeFileSync(path.join(home, 'bad.toml'), '[s3]\nlisen = "127.0.0.1:0"\n')
    const bad = shoal.run(home, ['serve', '--config', path.join(home, 'bad.toml')])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /line 2: unknown key s3\.lisen/)
    const missing = shoal.run(home, ['serve', '--config', path.join(home, 'none.toml')])
    assert.equal(missing.code, 2)
    fs.writeFileSync(path.join(home, 'peer.toml'), '[peer]\nlisten = "127.0.0.1:0"\n[discovery]\nlan = "yes"\n')
    const lan = shoal.run(home, ['serve', '--config', path.join(home, 'peer.toml')])
    assert.equal(lan.code, 2)
    assert.match(lan.stderr, /line 4: discovery\.lan must be true or false/)
    const badPeer = shoal.run(home, ['serve', '--listen-s3', '127.0.0.1:0', '--peer', 'nohost'])
    assert.equal(badPeer.code, 2)
    assert.match(badPeer.stderr, /--peer: expected HOST:PORT/)
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
})
