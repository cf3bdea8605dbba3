// Minimal TOML reader for the fly.toml subset fakefly needs.
// Supports: comments, [table], [a.b] dotted tables, [[array.of.tables]], bare/quoted/dotted keys,
// basic "strings" (with escapes), 'literal strings', """multi-line""", integers, floats, booleans,
// inline arrays (nested, multi-line) and inline tables { a = 1 }.
// Errors are TomlError with 1-based row/col, like flyctl's "row R column C".

export class TomlError extends Error {
  constructor(msg, row, col) {
    super(msg);
    this.row = row;
    this.col = col;
  }
}

export function parseToml(src) {
  const p = new Parser(src);
  return p.parse();
}

class Parser {
  constructor(src) {
    this.s = src.replace(/\r\n/g, '\n');
    this.i = 0;
    this.root = {};
    this.cur = this.root;
    this.defined = new Set();
  }

  pos() {
    const before = this.s.slice(0, this.i);
    const row = before.split('\n').length;
    const col = this.i - before.lastIndexOf('\n');
    return [row, col];
  }

  err(msg) {
    const [r, c] = this.pos();
    return new TomlError(msg, r, c);
  }

  peek(n = 0) { return this.s[this.i + n]; }

  skipWs() { while (this.peek() === ' ' || this.peek() === '\t') this.i++; }

  skipComment() {
    if (this.peek() === '#') while (this.i < this.s.length && this.peek() !== '\n') this.i++;
  }

  // whitespace, newlines and comments (inside arrays)
  skipAll() {
    for (;;) {
      this.skipWs();
      this.skipComment();
      if (this.peek() === '\n') { this.i++; continue; }
      break;
    }
  }

  expectEol() {
    this.skipWs();
    this.skipComment();
    if (this.i < this.s.length && this.peek() !== '\n') throw this.err(`expected end of line, found ${JSON.stringify(this.peek())}`);
    this.i++;
  }

  parse() {
    while (this.i < this.s.length) {
      this.skipWs();
      const c = this.peek();
      if (c === undefined) break;
      if (c === '\n') { this.i++; continue; }
      if (c === '#') { this.skipComment(); continue; }
      if (c === '[') {
        if (this.peek(1) === '[') {
          this.i += 2;
          const key = this.parseKey(']');
          if (this.peek() !== ']' || this.peek(1) !== ']') throw this.err('expected ]]');
          this.i += 2;
          this.cur = this.openArrayTable(key);
        } else {
          this.i++;
          const key = this.parseKey(']');
          if (this.peek() !== ']') throw this.err('expected ]');
          this.i++;
          this.cur = this.openTable(key);
        }
        this.expectEol();
        continue;
      }
      const key = this.parseKey('=');
      this.skipWs();
      if (this.peek() !== '=') throw this.err('expected =');
      this.i++;
      this.skipWs();
      const val = this.parseValue();
      this.assign(this.cur, key, val);
      this.expectEol();
    }
    return this.root;
  }

  parseKey(stop) {
    const parts = [];
    for (;;) {
      this.skipWs();
      const c = this.peek();
      if (c === '"') parts.push(this.parseBasicString());
      else if (c === "'") parts.push(this.parseLiteralString());
      else {
        const m = /^[A-Za-z0-9_-]+/.exec(this.s.slice(this.i));
        if (!m) throw this.err(`invalid key character ${JSON.stringify(c)}`);
        parts.push(m[0]);
        this.i += m[0].length;
      }
      this.skipWs();
      if (this.peek() === '.') { this.i++; continue; }
      if (this.peek() === stop) return parts;
      throw this.err(`unexpected character ${JSON.stringify(this.peek())} in key`);
    }
  }

  descend(obj, parts) {
    let o = obj;
    for (const k of parts) {
      if (o[k] === undefined) o[k] = {};
      else if (Array.isArray(o[k])) {
        const last = o[k][o[k].length - 1];
        if (!last || typeof last !== 'object' || Array.isArray(last)) throw this.err(`key ${k} is not a table`);
        o = last;
        continue;
      } else if (typeof o[k] !== 'object') throw this.err(`key ${k} is already a value`);
      o = o[k];
    }
    return o;
  }

  openTable(parts) {
    const id = parts.join('\u0000');
    if (this.defined.has(id)) throw this.err(`table [${parts.join('.')}] defined twice`);
    this.defined.add(id);
    const parent = this.descend(this.root, parts.slice(0, -1));
    const k = parts[parts.length - 1];
    if (parent[k] === undefined) parent[k] = {};
    if (typeof parent[k] !== 'object' || Array.isArray(parent[k])) throw this.err(`key ${k} is already defined`);
    return parent[k];
  }

  openArrayTable(parts) {
    const parent = this.descend(this.root, parts.slice(0, -1));
    const k = parts[parts.length - 1];
    if (parent[k] === undefined) parent[k] = [];
    if (!Array.isArray(parent[k])) throw this.err(`key ${k} is already a table`);
    const t = {};
    parent[k].push(t);
    // sub-tables of this element may be redefined per element
    for (const d of [...this.defined]) if (d.startsWith(parts.join('\u0000') + '\u0000')) this.defined.delete(d);
    return t;
  }

  assign(obj, parts, val) {
    const o = this.descend(obj, parts.slice(0, -1));
    const k = parts[parts.length - 1];
    if (Object.prototype.hasOwnProperty.call(o, k)) throw this.err(`key ${k} defined twice`);
    o[k] = val;
  }

  parseValue() {
    const c = this.peek();
    const rest = this.s.slice(this.i);
    if (c === '"') {
      if (rest.startsWith('"""')) return this.parseMultiBasic();
      return this.parseBasicString();
    }
    if (c === "'") {
      if (rest.startsWith("'''")) return this.parseMultiLiteral();
      return this.parseLiteralString();
    }
    if (c === '[') return this.parseArray();
    if (c === '{') return this.parseInlineTable();
    let m;
    if ((m = /^(true|false)(?![A-Za-z0-9_-])/.exec(rest))) { this.i += m[0].length; return m[1] === 'true'; }
    if ((m = /^[+-]?(0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)/.exec(rest))) {
      this.i += m[0].length;
      return Number(m[0].replace(/_/g, ''));
    }
    if ((m = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?/.exec(rest))) {
      this.i += m[0].length;
      return m[0];
    }
    if ((m = /^[+-]?(inf|nan)/.exec(rest))) { this.i += m[0].length; return m[1] === 'inf' ? (m[0][0] === '-' ? -Infinity : Infinity) : NaN; }
    if ((m = /^[+-]?\d[\d_]*(\.\d[\d_]*)?([eE][+-]?\d+)?/.exec(rest))) {
      this.i += m[0].length;
      return Number(m[0].replace(/_/g, ''));
    }
    throw this.err(`invalid value starting with ${JSON.stringify(c)}`);
  }

  parseBasicString() {
    this.i++; // opening "
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === '\n') throw this.err('unterminated string');
      this.i++;
      if (c === '"') return out;
      if (c === '\\') out += this.parseEscape();
      else out += c;
    }
  }

  parseEscape() {
    const e = this.peek();
    this.i++;
    switch (e) {
      case 'n': return '\n';
      case 't': return '\t';
      case 'r': return '\r';
      case 'b': return '\b';
      case 'f': return '\f';
      case '"': return '"';
      case '\\': return '\\';
      case 'u': case 'U': {
        const len = e === 'u' ? 4 : 8;
        const hex = this.s.slice(this.i, this.i + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw this.err('invalid unicode escape');
        this.i += len;
        return String.fromCodePoint(parseInt(hex, 16));
      }
      default: throw this.err(`invalid escape \\${e}`);
    }
  }

  parseLiteralString() {
    this.i++;
    const end = this.s.indexOf("'", this.i);
    const nl = this.s.indexOf('\n', this.i);
    if (end < 0 || (nl >= 0 && nl < end)) throw this.err('unterminated string');
    const v = this.s.slice(this.i, end);
    this.i = end + 1;
    return v;
  }

  parseMultiBasic() {
    this.i += 3;
    if (this.peek() === '\n') this.i++;
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) throw this.err('unterminated multi-line string');
      if (this.s.startsWith('"""', this.i)) {
        this.i += 3;
        while (this.peek() === '"') { out += '"'; this.i++; }
        return out;
      }
      const c = this.peek();
      this.i++;
      if (c === '\\') {
        if (/^[ \t]*\n/.test(this.s.slice(this.i))) {
          while (/[ \t\n]/.test(this.peek() ?? '')) this.i++;
        } else out += this.parseEscape();
      } else out += c;
    }
  }

  parseMultiLiteral() {
    this.i += 3;
    if (this.peek() === '\n') this.i++;
    const end = this.s.indexOf("'''", this.i);
    if (end < 0) throw this.err('unterminated multi-line string');
    const v = this.s.slice(this.i, end);
    this.i = end + 3;
    return v;
  }

  parseArray() {
    this.i++;
    const out = [];
    for (;;) {
      this.skipAll();
      if (this.peek() === ']') { this.i++; return out; }
      out.push(this.parseValue());
      this.skipAll();
      if (this.peek() === ',') { this.i++; continue; }
      if (this.peek() === ']') { this.i++; return out; }
      throw this.err('expected , or ] in array');
    }
  }

  parseInlineTable() {
    this.i++;
    const out = {};
    this.skipWs();
    if (this.peek() === '}') { this.i++; return out; }
    for (;;) {
      const key = this.parseKey('=');
      this.skipWs();
      if (this.peek() !== '=') throw this.err('expected =');
      this.i++;
      this.skipWs();
      this.assign(out, key, this.parseValue());
      this.skipWs();
      if (this.peek() === ',') { this.i++; this.skipWs(); continue; }
      if (this.peek() === '}') { this.i++; return out; }
      throw this.err('expected , or } in inline table');
    }
  }
}
