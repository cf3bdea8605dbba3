// clawdfly: scheduled, encrypted off-site copies of the state volume (runs on the machine).
//   node offsite.mjs run                      the loop; the supervisor runs it as a sidecar
//   node offsite.mjs once                     one backup + upload + verify + prune now (exit 0/1)
//   node offsite.mjs list --json              the copies in the bucket, newest first
//   node offsite.mjs fetch <name> --to <path> download, check, decrypt into a restorable archive
// Each copy is the archive `clawdfly backup` makes (the remote agent, clawdfly-agent.cjs, shipped beside this file:
// SQLite copied only through SQLite), encrypted here with AES-256-GCM before it leaves the machine:
//   "CLAWDFLY-OFFSITE-1\n" | 12-byte IV | ciphertext | 16-byte GCM tag
// The bucket speaks S3 (Tigris via `fly storage create`); requests are signed with SigV4 by hand
// (node:crypto): no S3 library in the image for the four calls used (PUT, HEAD/GET, LIST, DELETE).
// Settings (Fly secrets): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_S3,
// AWS_REGION, BUCKET_NAME, CLAWDFLY_BACKUP_KEY (base64, 32 bytes); fly.toml [env]:
// CLAWDFLY_OFFSITE_EVERY (1h, 15m, 90s), CLAWDFLY_OFFSITE_KEEP (24x1h,14x1d: the newest copy of
// each of the last 24 hours and of the last 14 days). No credential or key ever reaches a log line,
// an argv or the status file.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, createReadStream, createWriteStream, fstatSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAGIC = Buffer.from('CLAWDFLY-OFFSITE-1\n', 'ascii');
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const DEFAULT_KEEP = '24x1h,14x1d';
const HERE = dirname(fileURLToPath(import.meta.url));
/** Written by `clawdfly init` next to this file: the state dir and what a backup leaves out. */
const SETTINGS_FILE = join(HERE, 'offsite.json');
const ARCHIVE_SCRIPT = join(HERE, 'clawdfly-agent.cjs');
export const STATUS_NAME = '.clawdfly-offsite.json';
/** Variables that never reach the archive writer's environment. */
const SECRET_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'CLAWDFLY_BACKUP_KEY'];
const BACKOFF_MIN_MS = 30_000;
const BACKOFF_MAX_MS = 30 * 60_000;

const clean = (text, max = 300) => String(text).replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, max);

export class OffsiteError extends Error {}

// ---------------------------------------------------------------- settings

/** `1h`, `15m`, `90s`, `2s`, `1d`, a bare number (seconds) → seconds; undefined when not a duration. */
export function parseEvery(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/i.exec(String(text ?? ''));
  if (!m) return undefined;
  const seconds = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] || 's').toLowerCase()];
  return seconds >= 1 ? Math.round(seconds) : undefined;
}

/** `24x1h,14x1d` → [{ count: 24, seconds: 3600 }, { count: 14, seconds: 86400 }]. */
export function parseKeep(text) {
  const tiers = String(text ?? '').split(',').map((part) => {
    const m = /^\s*(\d+)\s*x\s*(\S+)\s*$/i.exec(part);
    const seconds = m ? parseEvery(m[2]) : undefined;
    if (!m || !seconds || Number(m[1]) < 1) throw new OffsiteError(`CLAWDFLY_OFFSITE_KEEP: "${clean(part, 40)}" is not like 24x1h`);
    return { count: Number(m[1]), seconds };
  });
  return tiers;
}

/** The connection settings; throws one line naming what is missing (never a value). */
export function readConfig(env = process.env) {
  const missing = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_ENDPOINT_URL_S3', 'BUCKET_NAME', 'CLAWDFLY_BACKUP_KEY'].filter((k) => !env[k]);
  if (missing.length) throw new OffsiteError(`not set on the machine: ${missing.join(', ')} (clawdfly backup schedule sets them)`);
  const key = Buffer.from(env.CLAWDFLY_BACKUP_KEY.trim(), 'base64');
  if (key.length !== 32) throw new OffsiteError('CLAWDFLY_BACKUP_KEY is not 32 bytes in base64');
  let endpoint;
  try { endpoint = new URL(env.AWS_ENDPOINT_URL_S3); } catch { throw new OffsiteError('AWS_ENDPOINT_URL_S3 is not a URL'); }
  const app = env.CLAWDFLY_OFFSITE_APP || env.FLY_APP_NAME || 'gateway';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(app)) throw new OffsiteError('the app name is not usable in an object name');
  return {
    s3: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN, endpoint, region: env.AWS_REGION || 'auto', bucket: env.BUCKET_NAME },
    key,
    prefix: `clawdfly/${app}/`,
    keep: parseKeep(env.CLAWDFLY_OFFSITE_KEEP || DEFAULT_KEEP),
  };
}

function readSettingsFile() {
  try { return JSON.parse(readFileSync(SETTINGS_FILE, 'utf8')); } catch { return {}; }
}

// ---------------------------------------------------------------- retention (pure)

/** `20261207T013000Z` ↔ milliseconds. */
export function stampOf(ms) {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
export function timeOfStamp(stamp) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}
const NAME_RE = /^(\d{8}T\d{6}Z)\.tar\.enc$/;
/** The copy's time from its object name (`<prefix><stamp>.tar.enc`), or undefined for any other object. */
export function timeOfName(name, prefix = '') {
  if (!name.startsWith(prefix)) return undefined;
  const m = NAME_RE.exec(name.slice(prefix.length));
  return m ? timeOfStamp(m[1]) : undefined;
}

/**
 * Which copies to keep: for each tier { count, seconds }, the newest copy in each of the `count`
 * most recent `seconds`-wide windows that hold a copy (restic's --keep-hourly/--keep-daily), and
 * always the newest copy. `copies`: [{ name, time (ms) }]. Returns { keep, drop } (names, newest first).
 */
export function retention(copies, tiers) {
  const sorted = [...copies].sort((a, b) => b.time - a.time || (a.name < b.name ? 1 : -1));
  const keep = new Set(sorted.length ? [sorted[0].name] : []);
  for (const { count, seconds } of tiers) {
    const windows = new Set();
    for (const copy of sorted) {
      const window = Math.floor(copy.time / (seconds * 1000));
      if (windows.has(window)) continue;
      if (windows.size >= count) break;
      windows.add(window);
      keep.add(copy.name);
    }
  }
  return { keep: sorted.filter((c) => keep.has(c.name)).map((c) => c.name), drop: sorted.filter((c) => !keep.has(c.name)).map((c) => c.name) };
}

/** Capped exponential backoff after `failures` failures in a row (1 → min). */
export function backoffMs(failures, minMs = BACKOFF_MIN_MS, maxMs = BACKOFF_MAX_MS) {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, failures - 1));
}

// ---------------------------------------------------------------- S3 (SigV4, path-style)

const sha256Hex = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const uriEncode = (text) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const EMPTY_SHA256 = sha256Hex('');

/** The headers that sign one request (AWS Signature Version 4, service s3). */
export function signRequest({ method, path, query = {}, headers = {}, payloadHash, creds, now = new Date() }) {
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const day = amzDate.slice(0, 8);
  const all = { ...headers, host: creds.endpoint.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
  if (creds.sessionToken) all['x-amz-security-token'] = creds.sessionToken;
  const names = Object.keys(all).map((k) => k.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim().replace(/\s+/g, ' ')]));
  const canonicalQuery = Object.keys(query).sort().map((k) => `${uriEncode(k)}=${uriEncode(String(query[k]))}`).join('&');
  const canonical = [method, path, canonicalQuery, names.map((n) => `${n}:${lower[n]}\n`).join(''), names.join(';'), payloadHash].join('\n');
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day), creds.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', signingKey).update(toSign).digest('hex');
  return { ...lower, authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

function objectPath(creds, key) {
  const base = creds.endpoint.pathname.replace(/\/+$/, '');
  return `${base}/${uriEncode(creds.bucket)}${key === undefined ? '' : `/${key.split('/').map(uriEncode).join('/')}`}`;
}

/**
 * One signed request. `body`: a Buffer, or { file, size, sha256, md5 } streamed from disk.
 * `sink(res)` takes the response stream on 2xx (else the body is read as the error text).
 */
function s3Request(creds, { method, key, query = {}, headers = {}, body, sink, timeoutMs = 120_000 }) {
  const path = objectPath(creds, key);
  const payloadHash = body === undefined ? EMPTY_SHA256 : Buffer.isBuffer(body) ? sha256Hex(body) : body.sha256;
  const extra = { ...headers };
  if (body !== undefined) {
    extra['content-length'] = Buffer.isBuffer(body) ? body.length : body.size;
    if (!Buffer.isBuffer(body) && body.md5) extra['content-md5'] = body.md5;
  }
  const signed = signRequest({ method, path, query, headers: extra, payloadHash, creds });
  const qs = Object.keys(query).sort().map((k) => `${uriEncode(k)}=${uriEncode(String(query[k]))}`).join('&');
  const send = creds.endpoint.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send({ method, host: creds.endpoint.hostname, port: creds.endpoint.port || undefined, path: qs ? `${path}?${qs}` : path, headers: signed, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300 && sink) {
        Promise.resolve(sink(res)).then((value) => resolve({ status, headers: res.headers, value }), reject);
        return;
      }
      const chunks = [];
      let size = 0;
      res.on('data', (c) => { if (size < 1_000_000) { chunks.push(c); size += c.length; } });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (status >= 200 && status < 300) resolve({ status, headers: res.headers, text });
        else {
          const code = /<Code>([^<]{1,80})<\/Code>/.exec(text)?.[1];
          const error = new OffsiteError(`${method} ${key ?? '(bucket)'}: HTTP ${status}${code ? ` ${code}` : ''}`);
          error.status = status;
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new OffsiteError(`${method} ${key ?? '(bucket)'}: no answer for ${timeoutMs / 1000} s`)));
    req.on('error', (e) => reject(e instanceof OffsiteError ? e : new OffsiteError(`${method} ${key ?? '(bucket)'}: ${e.code || clean(e.message, 120)}`)));
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      const stream = createReadStream(body.file);
      stream.on('error', (e) => req.destroy(e));
      stream.pipe(req);
    }
  });
}

const xmlText = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');

/** Every object under `prefix` (ListObjectsV2, all pages): [{ key, size, lastModified }]. */
export async function listObjects(creds, prefix) {
  const out = [];
  let token;
  for (let page = 0; page < 1000; page++) {
    const query = { 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) };
    const { text } = await s3Request(creds, { method: 'GET', query });
    for (const [, body] of text.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const key = xmlText(/<Key>([\s\S]*?)<\/Key>/.exec(body)?.[1] ?? '');
      out.push({ key, size: Number(/<Size>(\d+)<\/Size>/.exec(body)?.[1] ?? -1), lastModified: /<LastModified>([^<]*)<\/LastModified>/.exec(body)?.[1] });
    }
    if (!/<IsTruncated>true<\/IsTruncated>/.test(text)) break;
    token = xmlText(/<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(text)?.[1] ?? '');
    if (!token) break;
  }
  return out;
}

/** One small object from memory (tests and tools; the uploader streams from its file). */
export function putObject(creds, key, body) {
  return s3Request(creds, { method: 'PUT', key, body });
}

// ---------------------------------------------------------------- archive + encryption

/** The machine's state archive, as `clawdfly backup` makes it, streamed from the remote agent. */
function archiveProcess(settings, env) {
  const stateDir = settings.stateDir || '/data';
  const meta = {
    app: env.FLY_APP_NAME,
    runtime: settings.runtime,
    machine: env.FLY_MACHINE_ID,
    image: env.FLY_IMAGE_REF,
    stateDir,
    excludes: [...(settings.excludes || []), STATUS_NAME, 're:^\\.clawdfly-offsite-'],
    excludedLabels: settings.excludedLabels,
    offsite: true,
  };
  const childEnv = { ...env };
  for (const name of SECRET_ENV) delete childEnv[name];
  for (const name of Object.keys(childEnv)) if (name.startsWith('AWS_')) delete childEnv[name];
  // The archive script runs its main only when this global is set (it is also a library).
  const child = spawn(process.execPath, ['-e', 'globalThis.__clawdflyRemote=1;require(process.argv[1])', ARCHIVE_SCRIPT, 'backup', stateDir, Buffer.from(JSON.stringify(meta)).toString('base64url')], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  lowerIoPriority(child.pid);
  let stderr = '';
  child.stderr.on('data', (c) => { if (stderr.length < 4000) stderr += c; });
  const done = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, stderr: stderr.split('\n').filter((l) => l && !l.startsWith('__TOTAL ')).join(' ') }));
    child.once('error', (e) => resolve({ code: 127, stderr: e.message }));
  });
  return { stdout: child.stdout, done };
}

/** Idle I/O class for a process when `ionice` exists (best effort; CPU niceness is inherited). */
function lowerIoPriority(pid) {
  if (!pid) return;
  try { spawnSync('ionice', ['-c', '3', '-p', String(pid)], { stdio: 'ignore', timeout: 2000 }); } catch { /* not available */ }
}

/**
 * Encrypts `input` into `file` (MAGIC | IV | ciphertext | tag) with bounded memory; returns the
 * size, sha256 (hex, for SigV4) and md5 (base64, Content-MD5) of what was written.
 */
export function encryptToFile(input, key, file) {
  return new Promise((resolve, reject) => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    const sha = createHash('sha256');
    const md5 = createHash('md5');
    let size = 0;
    let failed = false;
    const fail = (e) => { if (!failed) { failed = true; input.destroy?.(); cipher.destroy(); out.destroy(); reject(e); } };
    const put = (buf) => { sha.update(buf); md5.update(buf); size += buf.length; return out.write(buf); };
    put(Buffer.concat([MAGIC, iv]));
    cipher.on('data', (c) => { if (!put(c)) { cipher.pause(); out.once('drain', () => cipher.resume()); } });
    cipher.on('end', () => {
      if (failed) return;
      put(cipher.getAuthTag());
      out.end(() => resolve({ size, sha256: sha.digest('hex'), md5: md5.digest('base64') }));
    });
    cipher.on('error', fail);
    out.on('error', fail);
    input.on('error', fail);
    input.pipe(cipher);
  });
}

/**
 * Decrypts an encrypted copy (a readable stream of `size` bytes) into `dest`: the plaintext goes to
 * a private partial file beside it and is renamed into place only after the GCM tag checked out.
 */
export function decryptToFile(input, size, key, dest) {
  return new Promise((resolve, reject) => {
    const headerBytes = MAGIC.length + IV_BYTES;
    if (size < headerBytes + TAG_BYTES) { input.destroy?.(); reject(new OffsiteError('not a clawdfly off-site copy (too short)')); return; }
    const partial = join(dirname(dest), `.${dest.slice(dirname(dest).length + 1)}.partial-${randomBytes(6).toString('hex')}`);
    let out;
    // Opened here and now (a stream opens later): a failure below always finds the file to remove.
    try { out = createWriteStream(null, { fd: openSync(partial, 'wx', 0o600) }); } catch (e) { reject(e); return; }
    let head = Buffer.alloc(0);
    let decipher;
    let seen = 0;
    let tail = Buffer.alloc(0);
    let failed = false;
    const fail = (e) => {
      if (failed) return;
      failed = true;
      input.destroy?.();
      out.destroy();
      try { rmSync(partial, { force: true }); } catch { /* best effort */ }
      reject(e instanceof OffsiteError ? e : new OffsiteError(clean(e?.message ?? e, 200)));
    };
    out.on('error', fail);
    const write = (buf) => { if (buf.length && !out.write(buf)) { input.pause(); out.once('drain', () => input.resume()); } };
    input.on('data', (chunk) => {
      if (failed) return;
      seen += chunk.length;
      if (!decipher) {
        head = Buffer.concat([head, chunk]);
        if (head.length < headerBytes) return;
        if (!head.subarray(0, MAGIC.length).equals(MAGIC)) return fail(new OffsiteError('not a clawdfly off-site copy (no CLAWDFLY-OFFSITE-1 header)'));
        decipher = createDecipheriv('aes-256-gcm', key, head.subarray(MAGIC.length, headerBytes));
        chunk = head.subarray(headerBytes);
      }
      // Hold the last TAG_BYTES back: they are the tag, not ciphertext.
      const data = Buffer.concat([tail, chunk]);
      const keepBack = Math.min(TAG_BYTES, data.length);
      tail = Buffer.from(data.subarray(data.length - keepBack));
      write(decipher.update(data.subarray(0, data.length - keepBack)));
    });
    input.on('error', fail);
    input.on('end', () => {
      if (failed) return;
      if (seen !== size) return fail(new OffsiteError(`the download stopped early (${seen} of ${size} bytes)`));
      if (!decipher || tail.length !== TAG_BYTES) return fail(new OffsiteError('not a clawdfly off-site copy (too short)'));
      try {
        decipher.setAuthTag(tail);
        write(decipher.final());
      } catch {
        return fail(new OffsiteError('the copy does not decrypt with this CLAWDFLY_BACKUP_KEY (wrong key, or the object was changed)'));
      }
      out.end(() => {
        try { renameSync(partial, dest); } catch (e) { return fail(e); }
        resolve({ size: statSync(dest).size });
      });
    });
  });
}

// ---------------------------------------------------------------- the operations

function statusPath(settings) {
  return join(settings.stateDir || '/data', STATUS_NAME);
}

/** The status file (owner-only), replaced whole: a reader never sees half of it. */
export function writeStatus(file, status) {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
}

function readStatus(file) {
  try {
    const fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      const buf = Buffer.alloc(Math.min(fstatSync(fd).size, 64 * 1024));
      readSync(fd, buf, 0, buf.length, 0);
      return JSON.parse(buf.toString('utf8'));
    } finally { closeSync(fd); }
  } catch { return {}; }
}

/** The copies in the bucket (clawdfly's names only), newest first. */
export async function listCopies(config) {
  const objects = await listObjects(config.s3, config.prefix);
  return objects
    .map((o) => ({ name: o.key.slice(config.prefix.length), key: o.key, size: o.size, time: timeOfName(o.key, config.prefix) }))
    .filter((o) => o.time !== undefined)
    .sort((a, b) => b.time - a.time);
}

/**
 * Backup → encrypt → upload → verify → prune. Verification: HEAD gives the stored size and ETag,
 * which for a single PUT is the MD5 of the bytes (checked when it looks like one; the PUT's
 * Content-MD5 already made the server refuse a damaged body), and a ranged GET of the last 16
 * bytes must return this copy's GCM tag: the object is there, whole, and readable with these
 * credentials, without downloading it again. Only then are older copies pruned.
 */
export async function backupOnce({ config, settings = readSettingsFile(), env = process.env, now = Date.now, log = () => {} }) {
  const started = now();
  const name = await freeName(config, started);
  const key = `${config.prefix}${name}`;
  const scratch = mkdtempSync(join(tmpdir(), 'clawdfly-offsite-'));
  scratchDirs.add(scratch);
  try {
    const file = join(scratch, 'copy.enc');
    const archive = archiveProcess(settings, env);
    const [enc, ended] = await Promise.all([encryptToFile(archive.stdout, config.key, file).catch((e) => ({ error: e })), archive.done]);
    if (ended.code !== 0) throw new OffsiteError(`the state archive failed (${ended.signal ?? `exit ${ended.code}`}${ended.stderr ? `: ${clean(ended.stderr, 200)}` : ''})`);
    if (enc.error) throw enc.error;
    await s3Request(config.s3, { method: 'PUT', key, headers: { 'content-type': 'application/octet-stream' }, body: { file, size: enc.size, sha256: enc.sha256, md5: enc.md5 }, timeoutMs: 10 * 60_000 });
    const head = await s3Request(config.s3, { method: 'HEAD', key });
    const storedSize = Number(head.headers['content-length']);
    if (storedSize !== enc.size) throw new OffsiteError(`uploaded ${name}, but the bucket holds ${storedSize} bytes of it, not ${enc.size}`);
    const etag = String(head.headers.etag ?? '').replace(/"/g, '');
    if (/^[0-9a-f]{32}$/i.test(etag) && etag.toLowerCase() !== Buffer.from(enc.md5, 'base64').toString('hex')) throw new OffsiteError(`uploaded ${name}, but its ETag is not the MD5 of what was sent`);
    const tag = Buffer.alloc(TAG_BYTES);
    const fd = openSync(file, 'r');
    try { readSync(fd, tag, 0, TAG_BYTES, enc.size - TAG_BYTES); } finally { closeSync(fd); }
    const ranged = await s3Request(config.s3, { method: 'GET', key, headers: { range: `bytes=${enc.size - TAG_BYTES}-${enc.size - 1}` }, sink: readAll });
    if (!ranged.value.equals(tag)) throw new OffsiteError(`uploaded ${name}, but reading its last bytes back gave something else`);
    const uploadedAt = new Date(now()).toISOString();
    log(`off-site copy ${name} uploaded and verified (${enc.size} bytes, ${Math.round((now() - started) / 100) / 10} s)`);
    const pruned = await prune(config, name, log);
    return { name, size: enc.size, uploadedAt, pruned };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    scratchDirs.delete(scratch);
  }
}

/** Scratch dirs in use: removed when a stop signal ends the process mid-copy. */
const scratchDirs = new Set();
function dropScratchDirs() {
  for (const dir of scratchDirs) try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  scratchDirs.clear();
}

/** `<stamp>.tar.enc` for this time, or the next free second's (a copy is never overwritten). */
async function freeName(config, ms) {
  for (let i = 0; i < 10; i++) {
    const name = `${stampOf(ms + i * 1000)}.tar.enc`;
    try {
      await s3Request(config.s3, { method: 'HEAD', key: `${config.prefix}${name}` });
    } catch (e) {
      if (e.status === 404) return name;
      throw e;
    }
  }
  throw new OffsiteError('ten copies already carry this time in their names');
}

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Deletes what the policy drops; the copy just verified is always kept (it is the newest). */
async function prune(config, verifiedName, log) {
  const copies = await listCopies(config);
  if (!copies.some((c) => c.name === verifiedName)) throw new OffsiteError(`${verifiedName} is not in the bucket's listing: nothing pruned`);
  const { drop } = retention(copies, config.keep);
  const dropped = [];
  for (const name of drop) {
    if (name === verifiedName) continue;
    await s3Request(config.s3, { method: 'DELETE', key: `${config.prefix}${name}` });
    dropped.push(name);
  }
  if (dropped.length) log(`pruned ${dropped.length} older off-site cop${dropped.length === 1 ? 'y' : 'ies'} (${config.keep.map((t) => `${t.count}x${t.seconds}s`).join(', ')})`);
  return dropped;
}

export async function fetchCopy({ config, name, to }) {
  if (!NAME_RE.test(name)) throw new OffsiteError(`"${clean(name, 80)}" is not an off-site copy name (like 20261207T010000Z.tar.enc)`);
  let exists = false;
  try { statSync(to); exists = true; } catch { /* free */ }
  if (exists) throw new OffsiteError(`${clean(to, 200)} already exists`);
  const res = await s3Request(config.s3, {
    method: 'GET',
    key: `${config.prefix}${name}`,
    timeoutMs: 10 * 60_000,
    sink: (stream) => decryptToFile(stream, Number(stream.headers['content-length']), config.key, to),
  });
  return res.value;
}

/** The sidecar: a copy every interval; failures retried sooner, with a capped backoff. */
export async function runLoop({ env = process.env, now = Date.now, log, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), stop = () => false, settings = readSettingsFile() }) {
  const every = parseEvery(env.CLAWDFLY_OFFSITE_EVERY);
  const file = statusPath(settings);
  const status = { every: every ?? null, lastUploadAt: null, lastObject: null, lastError: null, lastErrorAt: null, ...pick(readStatus(file)) };
  status.every = every ?? null;
  const save = () => { try { writeStatus(file, status); } catch (e) { log(`off-site: could not write ${file}: ${e.code || clean(e.message, 80)}`); } };
  if (!every) {
    status.lastError = `CLAWDFLY_OFFSITE_EVERY=${clean(env.CLAWDFLY_OFFSITE_EVERY ?? '', 20)} is not a duration like 1h`;
    status.lastErrorAt = new Date(now()).toISOString();
    save();
    log(`off-site: ${status.lastError}; no copies are made`);
    while (!stop()) await sleep(3600_000);
    return;
  }
  log(`off-site: a copy of the state every ${every} s`);
  let failures = 0;
  // The first copy comes one interval after the last one (a restart does not upload at once), and
  // never in the gateway's first minute (its boot is the busiest time of the machine).
  const last = status.lastUploadAt ? Date.parse(status.lastUploadAt) : NaN;
  const settle = now() + Math.min(every * 1000, 60_000);
  let next = Math.max(settle, Number.isFinite(last) ? last + every * 1000 : 0);
  while (!stop()) {
    if (now() < next) { await sleep(Math.min(next - now(), 60_000)); continue; }
    try {
      const config = readConfig(env);
      const result = await backupOnce({ config, settings, env, now, log });
      Object.assign(status, { lastUploadAt: result.uploadedAt, lastObject: result.name, lastError: null, lastErrorAt: null });
      failures = 0;
      next = now() + every * 1000;
    } catch (e) {
      failures += 1;
      const wait = Math.min(backoffMs(failures), every * 1000);
      Object.assign(status, { lastError: clean(e?.message ?? e, 300), lastErrorAt: new Date(now()).toISOString() });
      log(`off-site: copy failed (${status.lastError}); trying again in ${Math.round(wait / 1000)} s`);
      next = now() + wait;
    }
    save();
  }
}

function pick(saved) {
  const out = {};
  for (const k of ['lastUploadAt', 'lastObject', 'lastError', 'lastErrorAt']) if (typeof saved[k] === 'string') out[k] = saved[k];
  return out;
}

// ---------------------------------------------------------------- command line

const say = (line) => process.stdout.write(`${line}\n`);
const logLine = (line) => process.stdout.write(`[clawdfly] ${clean(line, 500)}\n`);

async function main(args) {
  const [command, ...rest] = args;
  if (command === 'run') {
    try { setPriority(0, 19); } catch { /* not allowed: fine */ }
    lowerIoPriority(process.pid);
    let stopping = false;
    // Stopped with the gateway: a copy in progress is dropped (its archive writer ends on the
    // closed pipe); the next run makes a whole new one.
    for (const sig of ['SIGTERM', 'SIGINT']) process.once(sig, () => { stopping = true; dropScratchDirs(); process.exit(0); });
    await runLoop({ log: logLine, stop: () => stopping });
    return 0;
  }
  const config = readConfig(process.env);
  if (command === 'once') {
    const settings = readSettingsFile();
    const file = statusPath(settings);
    const status = { every: parseEvery(process.env.CLAWDFLY_OFFSITE_EVERY) ?? null, lastUploadAt: null, lastObject: null, lastError: null, lastErrorAt: null, ...pick(readStatus(file)) };
    try {
      const result = await backupOnce({ config, settings, log: logLine });
      Object.assign(status, { lastUploadAt: result.uploadedAt, lastObject: result.name, lastError: null, lastErrorAt: null });
      try { writeStatus(file, status); } catch { /* the copy is made: the status is only a report */ }
      say(JSON.stringify({ name: result.name, size: result.size, pruned: result.pruned }));
      return 0;
    } catch (e) {
      Object.assign(status, { lastError: clean(e?.message ?? e), lastErrorAt: new Date().toISOString() });
      try { writeStatus(file, status); } catch { /* reported below */ }
      throw e;
    }
  }
  if (command === 'list') {
    const copies = await listCopies(config);
    const rows = copies.map((c) => ({ name: c.name, size: c.size, time: new Date(c.time).toISOString() }));
    if (rest.includes('--json')) say(JSON.stringify(rows));
    else for (const r of rows) say(`${r.name}  ${r.size}`);
    return 0;
  }
  if (command === 'fetch') {
    const name = rest[0];
    const at = rest.indexOf('--to');
    const to = at >= 0 ? rest[at + 1] : undefined;
    if (!name || !to) throw new OffsiteError('usage: offsite.mjs fetch <name> --to <path>');
    const result = await fetchCopy({ config, name, to });
    say(JSON.stringify({ name, to, size: result.size }));
    return 0;
  }
  throw new OffsiteError('usage: offsite.mjs run | once | list --json | fetch <name> --to <path>');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e) => {
      process.stderr.write(`[clawdfly] off-site: ${clean(e instanceof OffsiteError ? e.message : e?.message ?? e)}\n`);
      process.exit(1);
    },
  );
}
