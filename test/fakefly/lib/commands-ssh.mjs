// fakefly: `ssh console` (runs the command through the machine shims or the backend).
import { FlyError, out, err } from './output.mjs';
import { withState } from './state.mjs';
import { appMachines } from './core.mjs';
import { shlexSplit } from './shlex.mjs';
import { isClawdbotArgv, runShim } from './machine-shims.mjs';
import { readApp } from './app-context.mjs';

// ---------------------------------------------------------------- ssh console

export async function cmdSshConsole(ctx) {
  const { appName, s } = readApp(ctx, { prefix: 'failed to get app: ' });
  const started = appMachines(s, appName).filter((m) => m.api.state === 'started');
  let m;
  if (ctx.flags.machine) {
    m = started.find((x) => x.api.id === ctx.flags.machine);
    if (!m) throw new FlyError(`--machine="${ctx.flags.machine}" not found/started`);
  } else {
    if (!started.length) throw new FlyError(`app ${appName} has no started VMs.\nIt may be unhealthy or not have been deployed yet.\nTry the following command to verify:\n\nfly status`);
    m = started[0];
    if (started.length > 1) out(`No machine specified, using ${m.api.id} in region ${m.api.region}\n`);
  }
  const command = ctx.flags.command;
  if (command === undefined || command === '') throw new FlyError('fakefly: interactive ssh sessions are not supported; pass -C/--command');
  if (!ctx.flags.quiet) err(`Connecting to ${m.api.private_ip}... complete\n`);
  let argv;
  try { argv = shlexSplit(command); } catch (e) { argv = null; err(`${e.message}\n`); }
  let res;
  if (!argv || !argv.length) res = { code: 1, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  else if (!ctx.backend.realProcesses && (['kill'].includes(argv[0].split('/').pop()) || isClawdbotArgv(argv))) {
    const r = runShim(ctx.dir, appName, m.api.id, argv);
    res = { code: r.code, stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr) };
  } else {
    const env = { ...(m.api.config.env || {}), ...(m.fake.appliedSecrets || {}), FLY_APP_NAME: appName, FLY_MACHINE_ID: m.api.id, FLY_REGION: m.api.region, FLY_PRIVATE_IP: m.api.private_ip, FLY_IMAGE_REF: m.api.config.image || '' };
    res = await ctx.backend.exec(ctx, m, argv, {
      stdin: process.stdin.isTTY ? null : ctx.stdin.stream(),
      env,
      onStdinBytes: (n) => ctx.stdin.count(n),
    });
  }
  withState(ctx.dir, (st) => { (st.ssh ||= []).push({ app: appName, machine: m.api.id, command, exitCode: res.code, ts: new Date().toISOString() }); });
  // flyctl passes any amount of output through (flyctl-day2.md §6.2); the process exits right after
  // these writes, and a pipe takes only ~64 KB at once: write synchronously, or the rest is lost.
  for (const stream of [process.stdout, process.stderr]) stream._handle?.setBlocking?.(true);
  process.stdout.write(res.stdout);
  process.stderr.write(res.stderr);
  if (res.code !== 0) throw new FlyError(`ssh shell: Process exited with status ${res.code}`);
}
