/**
 * `clawdfly up --local`: the project on this computer before paying for a machine. The image in
 * podman or docker when one works (the local Fly machine), else the runtime bundle on Node from
 * PATH or --node. State in .clawdfly/local-data, loopback only, the log streamed until Ctrl-C,
 * which stops the gateway cleanly (exit 0).
 */
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { CommandContext } from '../types.js';
import type { upSpec } from './spec.js';
import { UsageError } from '../../errors.js';
import { DEFAULT_GATEWAY_PORT, gatewayRpcCli, TMP_SUBDIR } from '../../gateway/runtime.js';
import { chooseEngine, probeEngines, type EngineDecision, type EngineRequest } from '../../local/engine.js';
import { containerName, ContainerEngine, ensureImage, prepareVolume, removeReplacedImage, splitCommand, startContainer, useImage } from '../../local/container.js';
import { ensureLocalRuntime, hostGatewayArgv, resolveHostNode, spawnHostGateway } from '../../local/host.js';
import { validateWithGateway } from '../../gateway/validate.js';
import {
  assertPortFree,
  channelTokensIn,
  checkProjectConfig,
  containerGatewayEnv,
  gatewaySecrets,
  hostGatewayEnv,
  localLayout,
  seedConfig,
  type ConfigSeedResult,
  type LocalLayout,
} from '../../local/prepare.js';
import { exitError, supervise, type SuperviseResult } from '../../local/supervise.js';
import { PhaseClock, seconds } from '../../local/phases.js';
import { openProject } from '../../operate/context.js';
import { PROJECT_FILES } from '../../project/paths.js';
import type { Project } from '../../project/project.js';
import { commandPort } from '../../project/render.js';
import { isVerbose, out } from '../../ui/output.js';
import { isFancyProgress, Progress } from '../../ui/progress.js';
import { style } from '../../ui/style.js';

/** A boot that has not logged `listening` by then is stuck (cold boots take 40–170 s under load). */
const BOOT_TIMEOUT_MS = 10 * 60_000;

interface Ctx {
  project: Project;
  layout: LocalLayout;
  hostPort: number;
  internalPort: number;
  /** How --dir was given, for the commands we print. */
  dirFlag: string;
  clock: PhaseClock;
}

export async function run({ opts }: CommandContext<typeof upSpec>): Promise<number> {
  const clock = new PhaseClock();
  if (opts.local !== true) {
    throw new UsageError('`clawdfly up` only runs the project on this computer so far', 'clawdfly up --local   (to run it on Fly: clawdfly deploy)', 'no-mode');
  }
  const request = opts.engine as EngineRequest; // any other word is refused by chooseEngine below
  const nodeFlag = opts.node;
  // Refuse a bad --engine / --node combination before looking at anything.
  const offline = { podman: { works: false }, docker: { works: false } };
  if (nodeFlag !== undefined || request === 'node' || !['auto', 'podman', 'docker'].includes(request)) chooseEngine(request, offline, { nodeGiven: nodeFlag !== undefined });

  const project = await openProject(opts);
  clock.mark('startup');
  const internalPort = project.fly.internalPort ?? commandPort(project.fly.processCommand) ?? DEFAULT_GATEWAY_PORT;
  const portOpt = opts.port;
  const hostPort = typeof portOpt === 'number' ? portOpt : internalPort;
  await checkProjectConfig(project);

  let decision: EngineDecision;
  if (nodeFlag !== undefined || request === 'node') {
    decision = chooseEngine(request, offline, { nodeGiven: nodeFlag !== undefined });
  } else {
    decision = chooseEngine(request, await probeEngines());
  }
  for (const reason of decision.reasons) out.verbose(`engine ${reason}`);
  clock.mark('engine probe');
  const autoNote = decision.kind === 'node' && nodeFlag === undefined && request === 'auto' ? 'no working podman or docker was found' : undefined;
  // The host engine's Node is checked before anything is written.
  const node = decision.kind === 'node' ? await resolveHostNode(project.runtime, nodeFlag, autoNote) : undefined;
  await assertPortFree(hostPort);

  const ctx: Ctx = { project, layout: localLayout(project), hostPort, internalPort, dirFlag: relative(process.cwd(), project.dir) || '.', clock };
  const tokenName = project.runtime.env.gatewayToken;
  if (!project.secrets[tokenName]) out.warn(`no ${tokenName} in ${PROJECT_FILES.secrets}: the Control UI will not ask for one (clawdfly init writes it)`);
  const channels = channelTokensIn(gatewaySecrets(project));
  if (channels.length) out.warn(`${channels.join(', ')} ${channels.length > 1 ? 'are' : 'is'} passed too: if this app is also deployed, both gateways answer on those channels`);

  out.step(`Running ${style.bold(project.app)} locally with ${decision.kind === 'node' ? `Node ${node!.version} (${node!.path})` : decision.kind}; state in ${style.path(join(ctx.dirFlag, PROJECT_FILES.localData))}`);
  const imageRef = opts.image;
  if (imageRef !== undefined && decision.kind === 'node') throw new UsageError('--image needs a container engine', 'drop --image, or --engine podman|docker', 'engine-conflict');
  const result = decision.kind === 'node' ? await runOnHost(ctx, node!) : await runInContainer(ctx, decision.kind, decision.path!, { rebuild: opts.rebuild === true, image: imageRef });
  return finish(ctx, result);
}

function reportSeed(ctx: Ctx, seed: ConfigSeedResult): void {
  const file = join(ctx.dirFlag, PROJECT_FILES.localData, ctx.project.runtime.configFileName);
  if (seed.action === 'seeded') out.info(`  config: copied ${ctx.project.runtime.configFileName} to ${file} (first run)`);
  else if (seed.action === 'kept') out.verbose(`config: kept ${file} (the gateway's own copy; delete it to copy ${ctx.project.runtime.configFileName} again)`);
  if (seed.action !== 'none' && seed.remapped.length) out.verbose(`config: state paths moved for this engine: ${seed.remapped.join(', ')}`);
}

function announce(ctx: Ctx, bootMs: number, approveHint?: string): void {
  const url = `http://127.0.0.1:${ctx.hostPort}/`;
  const tokenCmd = `clawdfly token --copy${ctx.dirFlag === '.' ? '' : ` --dir ${ctx.dirFlag}`}`;
  ctx.clock.mark('gateway boot');
  out.verbose(`phases: ${ctx.clock.summary()}`);
  out.success(`Gateway listening after ${(bootMs / 1000).toFixed(1)} s (${seconds(ctx.clock.totalMs())} since the command started)`);
  out.info(`  Control UI: ${style.bold(url)}`);
  out.info(`  Log in: paste the gateway token into the Control UI settings: ${style.cmd(tokenCmd)}`);
  if (approveHint) out.info(`  If the Control UI says "pairing required" (the port mapping can make a browser look remote), approve it once: ${style.cmd(approveHint)}`);
  out.info(`  Stop: Ctrl-C (state stays in ${join(ctx.dirFlag, PROJECT_FILES.localData)})`);
}

/**
 * A runtime with its own validator (runtime.configValidator) judges the project's config before
 * it is copied into the state folder: an invalid one is refused (exit 2) with the gateway's words.
 */
async function checkWithGatewayValidator(ctx: Ctx, node: { path: string }, entry: string): Promise<void> {
  const { project } = ctx;
  if (project.runtime.configValidator.kind !== 'gateway' || project.configText === undefined) return;
  const verdict = await validateWithGateway(project.runtime, node.path, entry, project.configPath);
  const file = join(ctx.dirFlag, project.runtime.configFileName);
  for (const w of verdict.warnings) out.verbose(`config: ${project.runtime.cliName} would migrate ${w.path}: ${w.message}`);
  if (!verdict.valid) {
    throw new UsageError(
      `${file} is not valid for ${project.runtime.id}: ${verdict.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      `fix ${file} (clawdfly config validate --dir ${ctx.dirFlag})`,
      'invalid-config',
    );
  }
  out.verbose(`config: ${file} is valid for ${project.runtime.id} (${project.runtime.cliName} ${project.runtime.configValidator.args.slice(0, 2).join(' ')})`);
  ctx.clock.mark('config validate');
}

async function runOnHost(ctx: Ctx, node: { path: string; version: string }): Promise<SuperviseResult> {
  const { project, layout } = ctx;
  const progress = new Progress();
  const runtime = await progress.run('runtime', `Runtime bundle (${project.runtime.id}) in ${join(ctx.dirFlag, '.clawdfly/local-runtime')}`, (update) =>
    ensureLocalRuntime(project, node, update),
  );
  out.verbose(runtime.installed ? `npm ci took ${runtime.seconds.toFixed(1)} s` : `runtime bundle already installed in ${runtime.dir}`);
  ctx.clock.mark('runtime bundle');
  await checkWithGatewayValidator(ctx, node, runtime.entry);
  const seed = await seedConfig(project, layout, layout.dataDir);
  reportSeed(ctx, seed);
  const env = hostGatewayEnv(project, layout, join(node.path, '..'));
  await Promise.all([join(layout.dataDir, TMP_SUBDIR), env['HOME']!].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
  const argv = hostGatewayArgv(project.runtime, runtime, ctx.hostPort);
  out.verbose(`$ ${node.path} ${argv.join(' ')}  (cwd ${runtime.packageDir}; ${project.runtime.env.stateDir}=${layout.dataDir}, TMPDIR=${env['TMPDIR']})`);
  const child = spawnHostGateway(node, argv, runtime.packageDir, env);
  ctx.clock.mark('prepare');
  const killOrphan = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  process.once('exit', killOrphan);
  try {
    return await supervise({
      child,
      stop: (signal, force) => {
        if (!child.pid) return;
        // The gateway handles SIGINT and SIGTERM alike (clean shutdown, exit 0).
        const s = force ? 'SIGKILL' : signal === 'SIGHUP' ? 'SIGTERM' : signal;
        try {
          process.kill(force ? -child.pid : child.pid, s);
        } catch {
          /* already gone */
        }
      },
      exitStatus: async (status) => status,
      onListening: (_finding, ms) => announce(ctx, ms),
      bootTimeoutMs: BOOT_TIMEOUT_MS,
    });
  } finally {
    process.removeListener('exit', killOrphan);
  }
}

async function runInContainer(ctx: Ctx, kind: 'podman' | 'docker', path: string, o: { rebuild: boolean; image?: string }): Promise<SuperviseResult> {
  const { project, layout } = ctx;
  const engine = await ContainerEngine.open(kind, path);
  const progress = new Progress();
  const image = o.image
    ? await useImage(engine, o.image)
    : await progress.run('image', `Image from ${PROJECT_FILES.dockerfile} (${kind})`, (update) => ensureImage(engine, project, { rebuild: o.rebuild, onProgress: buildProgress(update) }));
  out.verbose(image.built ? `built ${image.tag} in ${image.seconds.toFixed(1)} s` : `reusing ${image.tag}`);
  ctx.clock.mark(image.built ? 'image build' : 'image check');
  const seed = await seedConfig(project, layout, layout.remoteStateDir);
  reportSeed(ctx, seed);
  await prepareVolume(engine, layout.dataDir);
  ctx.clock.mark('state folder');
  const name = containerName(project);
  const command = project.fly.processCommand ? splitCommand(project.fly.processCommand) : [];
  const container = await progress.run('container', `Container ${name} (127.0.0.1:${ctx.hostPort} → ${ctx.internalPort}${project.fly.memoryMb ? `, ${project.fly.memoryMb} MB` : ''})`, () =>
    startContainer(engine, {
      image: image.tag,
      imageId: image.id,
      name,
      projectDir: project.dir,
      env: containerGatewayEnv(project, ctx.internalPort),
      command,
      dataDir: layout.dataDir,
      stateDir: layout.remoteStateDir,
      memoryMb: project.fly.memoryMb,
      hostPort: ctx.hostPort,
      internalPort: ctx.internalPort,
    }),
  );
  ctx.clock.mark('container start');
  // Through the port mapping the gateway sees a remote client, which it pairs like a browser on Fly.
  const approve = `${kind} exec ${name} ${gatewayRpcCli(project.runtime, ctx.internalPort, ['devices', 'list']).join(' ')}`;
  let oomKilled = false;
  let cleanup: Promise<void> | undefined;
  const removeReplaced = async (): Promise<void> => {
    await container.removeReplaced();
    if (image.replaced) await removeReplacedImage(engine, image.replaced);
  };
  try {
    return await supervise({
      child: container.logs,
      stop: (_signal, force) => container.stop(force),
      exitStatus: async () => {
        const s = await container.exitStatus();
        oomKilled = s.oomKilled;
        return { code: s.oomKilled && s.code === 0 ? 137 : s.code, signal: null };
      },
      onListening: (_finding, ms) => {
        announce(ctx, ms, approve);
        // What this run replaced (the old container, then the image it used) goes now, while the
        // gateway runs, not before it starts.
        cleanup = removeReplaced();
      },
      bootTimeoutMs: BOOT_TIMEOUT_MS,
    });
  } finally {
    if (oomKilled) out.verbose('the engine reports the container was OOM-killed');
    // Also when it never listened: nothing replaced is left behind.
    await (cleanup ?? removeReplaced());
    // Kept, stopped (the state is in .clawdfly/local-data, not in it): the next run with the same
    // image and settings starts it again in seconds instead of re-creating it for minutes on vfs.
    out.info(`  container ${name} kept, stopped, for a quick restart (remove it: ${kind} rm ${name})`);
  }
}

/**
 * Build progress with the elapsed time: on a terminal in the spinner; in a log (CI, pipes) one
 * line per build step, since a first build takes minutes and silence looks like a hang.
 */
function buildProgress(update: (text: string) => void): (text: string) => void {
  const started = Date.now();
  return (text) => {
    const line = `${text} (${seconds(Date.now() - started)})`;
    update(line);
    if (!isFancyProgress() && !isVerbose()) out.info(`  ${line}`);
  };
}

function finish(ctx: Ctx, result: SuperviseResult): number {
  const clean = result.code === 0 || result.signal === 'SIGINT' || result.signal === 'SIGTERM' || result.code === 130 || result.code === 143;
  if (result.stopRequested) {
    if (clean) {
      out.success(`Stopped. State kept in ${join(ctx.dirFlag, PROJECT_FILES.localData)}; run \`clawdfly up --local\` again to continue (later boots are warm).`);
      return 0;
    }
    out.warn(`the gateway stopped with ${result.signal ?? `exit code ${result.code}`}`);
    return 1;
  }
  throw exitError(ctx.project.runtime, result, {
    configFile: join(ctx.dirFlag, PROJECT_FILES.localData, ctx.project.runtime.configFileName),
    portFlag: `--port <another port>`,
  });
}
