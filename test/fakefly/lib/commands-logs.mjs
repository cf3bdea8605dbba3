// fakefly: `logs` (--no-tail and following).
import { FlyError, out, jsonOut, aurora } from './output.mjs';
import { readState } from './state.mjs';
import { requireAuth, resolveAppName } from './core.mjs';

// ---------------------------------------------------------------- logs

function logEntryObject(e) {
  return {
    level: e.level, instance: e.instance, message: e.message, region: e.region, timestamp: e.timestamp,
    meta: { Instance: e.instance, Region: e.region, Event: { Provider: e.provider }, HTTP: { Request: { ID: '', Method: '', Version: '' }, Response: { status_code: 0 } }, Error: { Code: 0, Message: '' }, URL: { Full: '' } },
  };
}

const LEVEL_COLOR = { debug: aurora.cyan, info: aurora.blue, warn: aurora.yellow, warning: aurora.yellow };

function renderLogLine(e) {
  const ts = e.timestamp.replace(/\.\d+Z$/, 'Z');
  const who = e.provider ? (e.instance ? `${e.provider}[${e.instance}]` : e.provider) : e.instance;
  const lvl = (LEVEL_COLOR[e.level] || aurora.red)(e.level);
  return `${aurora.faint(ts)} ${who} ${aurora.green(e.region)} [${lvl}]${e.message}\n`;
}

export async function cmdLogs(ctx) {
  const appName = resolveAppName(ctx);
  const s0 = readState(ctx.dir);
  requireAuth(ctx, s0);
  if (!s0.apps[appName]) throw new FlyError('404 Not Found');
  const machine = ctx.flags.machine;
  const region = ctx.flags.region || (machine ? '' : ctx.env.FLY_REGION || '');
  let lastSeq = 0;
  const fetchPage = () => {
    const s = readState(ctx.dir);
    const app = s.apps[appName];
    if (!app) throw new FlyError('404 Not Found');
    return (app.logs || []).filter((e) => e.seq > lastSeq && (!machine || e.instance === machine) && (!region || e.region === region));
  };
  let wait = 64;
  for (;;) {
    const page = fetchPage();
    if (page.length) {
      for (const e of page) {
        if (ctx.flags.json) jsonOut(logEntryObject(e));
        else out(renderLogLine(e));
        lastSeq = e.seq;
      }
      if (ctx.flags['no-tail']) return;
      wait = 64;
    } else {
      if (ctx.flags['no-tail'] && ctx.env.FAKEFLY_LOGS_EMPTY_EXIT === '1') return;
      wait = Math.min(wait * 2, 4096);
    }
    await new Promise((r) => setTimeout(r, Math.min(wait, ctx.flags['no-tail'] ? wait : 250)));
  }
}
