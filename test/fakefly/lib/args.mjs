// pflag/cobra-like argument parsing for fakefly.
// Flag spec strings: "name|short,alias1,alias2:type" where type is b (bool), s (string), i (int),
// a (string array, repeatable). Example: "app|a:s", "vm-memory,memory:s", "json|j:b".
import { FlyError } from './output.mjs';

export function compileFlags(specs) {
  const byLong = new Map();
  const byShort = new Map();
  for (const spec of specs) {
    const [names, type] = spec.split(':');
    const [longPart, ...aliases] = names.split(',');
    const [name, short] = longPart.split('|');
    const f = { name, short, type, aliases };
    byLong.set(name, f);
    for (const a of aliases) byLong.set(a, f);
    if (short) byShort.set(short, f);
  }
  return { byLong, byShort };
}

function describe(f) {
  return f.short ? `-${f.short}, --${f.name}` : `--${f.name}`;
}

function setValue(out, f, raw, shown) {
  switch (f.type) {
    case 'b': {
      const v = raw === undefined ? true : parseBool(raw);
      if (v === null) throw new FlyError(`invalid argument "${raw}" for "${describe(f)}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
      out.flags[f.name] = v;
      break;
    }
    case 'i': {
      if (!/^[+-]?\d+$/.test(raw)) throw new FlyError(`invalid argument "${raw}" for "${describe(f)}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`);
      out.flags[f.name] = parseInt(raw, 10);
      break;
    }
    case 'a':
      (out.flags[f.name] ||= []).push(raw);
      break;
    default:
      out.flags[f.name] = raw;
  }
  out.specified.add(f.name);
  void shown;
}

function parseBool(s) {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(s)) return false;
  return null;
}

/** Parse argv (after the command path) against compiled flags. Interspersed positionals allowed. */
export function parseArgs(argv, compiled) {
  const out = { flags: {}, args: [], specified: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (tok === '--') { out.args.push(...argv.slice(i + 1)); break; }
    if (tok.startsWith('--') && tok.length > 2) {
      const eq = tok.indexOf('=');
      const name = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
      const f = compiled.byLong.get(name);
      if (!f) throw new FlyError(`unknown flag: --${name}`);
      if (eq >= 0) setValue(out, f, tok.slice(eq + 1));
      else if (f.type === 'b') setValue(out, f, undefined);
      else {
        if (i + 1 >= argv.length) throw new FlyError(`flag needs an argument: --${name}`);
        setValue(out, f, argv[++i]);
      }
      continue;
    }
    if (tok.startsWith('-') && tok.length > 1) {
      // shorthand cluster: -yq, -avalue, -a value, -a=value
      let j = 1;
      while (j < tok.length) {
        const c = tok[j];
        const f = compiled.byShort.get(c);
        if (!f) throw new FlyError(`unknown shorthand flag: '${c}' in ${tok}`);
        if (f.type === 'b') {
          if (tok[j + 1] === '=') { setValue(out, f, tok.slice(j + 2)); break; }
          setValue(out, f, undefined);
          j++;
          continue;
        }
        let rest = tok.slice(j + 1);
        if (rest.startsWith('=')) rest = rest.slice(1);
        if (rest.length > 0) setValue(out, f, rest);
        else {
          if (i + 1 >= argv.length) throw new FlyError(`flag needs an argument: '${c}' in -${c}`);
          setValue(out, f, argv[++i]);
        }
        break;
      }
      continue;
    }
    out.args.push(tok);
  }
  return out;
}
