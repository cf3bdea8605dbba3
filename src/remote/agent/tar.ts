/**
 * A POSIX tar (ustar + pax) codec, as small as clawdfly's archives need: regular files and
 * directories, pax `path` and `size` records. Reading is streaming and bounded (a pax header over
 * MAX_PAX_BYTES is refused); links and special members are reported to the caller, which refuses them.
 * test/remote/tar-interop.test.ts holds it against GNU tar and bsdtar in both directions.
 */

export class ArchiveError extends Error {}

/** What reading an archive holds in memory at most for a pax header. */
export const MAX_PAX_BYTES = 1024 * 1024;

export interface HeaderAttrs {
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  /** '0' file, '5' directory, 'x' pax header. */
  type?: string;
}

export interface TarEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  mtime: number;
}

function octal(value: number, width: number): string | null {
  const s = value.toString(8);
  return s.length >= width ? null : s.padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  for (;;) {
    const total = String(len).length + Buffer.byteLength(body);
    if (total === len) break;
    len = total;
  }
  return `${len}${body}`;
}

function header(name: string, { size = 0, mode = 0o644, uid = 0, gid = 0, mtime = 0, type = '0' }: HeaderAttrs): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write(octal(mode & 0o7777, 8)!, 100, 'ascii');
  b.write(octal(uid, 8) ?? octal(0, 8)!, 108, 'ascii');
  b.write(octal(gid, 8) ?? octal(0, 8)!, 116, 'ascii');
  b.write(octal(size, 12) ?? octal(0, 12)!, 124, 'ascii');
  b.write(octal(Math.max(0, Math.floor(mtime)), 12) ?? octal(0, 12)!, 136, 'ascii');
  b.fill(' ', 148, 156);
  b.write(type, 156, 'ascii');
  b.write('ustar\u000000', 257, 'binary');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(octal(sum, 7)!, 148, 'ascii');
  b[155] = 0x20;
  return b;
}

/** Zero bytes up to the next 512-byte boundary. */
export function padding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

/** The header blocks of one member: a pax header first when the name or size does not fit ustar. */
export function memberHeader(name: string, attrs: HeaderAttrs): Buffer {
  const blocks: Buffer[] = [];
  const long = Buffer.byteLength(name) > 99 || /[^\x20-\x7e]/.test(name);
  const big = attrs.size !== undefined && octal(attrs.size, 12) === null;
  if (long || big) {
    const pax = Buffer.from((long ? paxRecord('path', name) : '') + (big ? paxRecord('size', String(attrs.size)) : ''), 'utf8');
    blocks.push(header('PaxHeader', { size: pax.length, type: 'x', mtime: attrs.mtime }), pax, padding(pax.length));
  }
  blocks.push(header(long ? name.replace(/[^\x20-\x7e]/g, '_').slice(-99) : name, attrs));
  return Buffer.concat(blocks);
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(1024);

function parseOctal(buf: Buffer): number {
  const s = buf.toString('ascii').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new ArchiveError(`bad number field "${s}" in a tar header`);
  return parseInt(s, 8);
}

/** `<len> <key>=<value>\n` records, read by byte offset (one pass: no copy of the rest per record). */
function parsePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < buf.length) {
    const space = buf.indexOf(0x20, at);
    if (space < 0 || space - at > 20) break;
    const lenText = buf.toString('ascii', at, space);
    if (!/^\d+$/.test(lenText)) break;
    const len = Number(lenText);
    if (len <= space - at || at + len > buf.length) break;
    const rec = buf.toString('utf8', space + 1, at + len);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1).replace(/\n$/, '');
    at += len;
  }
  return out;
}

export interface TarHandlers {
  onEntry(entry: TarEntry): void;
  onData(chunk: Buffer): void;
  onEntryEnd(): void;
}

/**
 * A streaming tar reader: push() raw (gunzipped) bytes; it calls onEntry(entry) at each member,
 * onData(chunk) with its content, onEntryEnd() after it. end() throws when the archive stopped
 * before its end-of-archive blocks.
 */
export class TarReader {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'header' | 'data' = 'header';
  private remaining = 0;
  private pad = 0;
  private pax: Record<string, string> | null = null;
  private paxBody: Buffer[] | null = null;
  /** The extended header being read is GNU tar's long name (`L`), not pax records. */
  private gnuLongName = false;
  private done = false;

  constructor(private readonly h: TarHandlers) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.done) {
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.state === 'data') {
        if (this.remaining > 0) {
          if (!this.buf.length) return;
          const n = Math.min(this.remaining, this.buf.length);
          const part = this.buf.subarray(0, n);
          this.buf = this.buf.subarray(n);
          this.remaining -= n;
          if (this.paxBody) this.paxBody.push(part);
          else this.h.onData(part);
          if (this.remaining > 0) return;
        }
        if (this.buf.length < this.pad) return;
        this.buf = this.buf.subarray(this.pad);
        this.state = 'header';
        if (this.paxBody) {
          const body = Buffer.concat(this.paxBody);
          this.pax = this.gnuLongName ? { path: body.toString('utf8').replace(/\0.*$/s, '') } : parsePax(body);
          this.paxBody = null;
        } else this.h.onEntryEnd();
        continue;
      }
      if (this.buf.length < 512) return;
      const block = this.buf.subarray(0, 512);
      this.buf = this.buf.subarray(512);
      if (block.every((x) => x === 0)) {
        this.done = true;
        continue;
      }
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
      if (parseOctal(block.subarray(148, 156)) !== sum) throw new ArchiveError('a tar header checksum does not match (damaged archive)');
      const type = String.fromCharCode(block[156] || 0x30);
      let size = parseOctal(block.subarray(124, 136));
      const prefix = block.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
      let name = block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      if (prefix) name = `${prefix}/${name}`;
      // pax headers, and GNU tar's own long-name member (its default format): both name the next member
      if (type === 'x' || type === 'g' || type === 'L') {
        this.gnuLongName = type === 'L';
        if (size > MAX_PAX_BYTES) throw new ArchiveError(`a pax header of ${size} bytes (over ${MAX_PAX_BYTES / 1024 / 1024} MB): not a clawdfly backup, refused`);
        this.state = 'data';
        this.remaining = size;
        this.pad = (512 - (size % 512)) % 512;
        this.paxBody = [];
        continue;
      }
      if (this.pax) {
        if (this.pax['path'] !== undefined) name = this.pax['path'];
        if (this.pax['size'] !== undefined) size = Number(this.pax['size']);
        this.pax = null;
      }
      this.h.onEntry({ name, type, size, mode: parseOctal(block.subarray(100, 108)), mtime: parseOctal(block.subarray(136, 148)) });
      this.state = 'data';
      this.remaining = type === '0' || type === '7' ? size : 0;
      this.pad = (512 - (this.remaining % 512)) % 512;
    }
  }

  end(): void {
    if (!this.done) throw new ArchiveError('the archive ends early (truncated: no end-of-archive marker)');
  }
}
