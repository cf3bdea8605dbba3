/**
 * clawdfly's agent on the machine: the one program that works in the state dir over `fly ssh`.
 * scripts/build.mjs bundles this file into dist/agent/clawdfly-agent.cjs (CommonJS, node22, Node
 * built-ins only). Two ways in:
 *   - over ssh: ../agent-call.ts's bootstrap reads the bundle from stdin and calls main(argv);
 *   - inside the image: `require('clawdfly-agent.cjs').createArchive(root, meta, out)` (the
 *     off-site uploader), or readArchive to check one.
 */
import { rmSync } from 'node:fs';
import { readArchive } from './archive.js';
import { createArchive } from './create-archive.js';
import { AgentFailure } from './failure.js';
import { dropToOwner } from './owner.js';
import { AGENT_STATUS, type AgentOp, type AgentParams } from './protocol.js';
import { confirmRestore, dropPrevious, findSwap, restore } from './restore.js';
import { findFiles, removeLeftovers } from './find.js';
import { pushConfig, readConfig, restoreConfig } from './config-file.js';
import { doctorProbe, probeTargets, removeStaleLocks } from './doctor-probe.js';
import { discardAside, dropSnapshot, restoreSnapshot, snapshotState } from './upgrade-snapshot.js';

export { createArchive, readArchive, AGENT_STATUS };

function decodeParams<K extends AgentOp>(word: string | undefined): AgentParams[K] {
  try {
    return JSON.parse(Buffer.from(word ?? 'e30', 'base64url').toString('utf8')) as AgentParams[K];
  } catch {
    throw new AgentFailure('the request parameters are not valid', AGENT_STATUS.badRequest);
  }
}

function reply(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Removes a scratch dir when a signal or the exit ends the agent (a backup's SQLite copies). */
function scratchCleaner(): (dir: string | null) => void {
  let scratch: string | null = null;
  const drop = () => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    scratch = null;
  };
  process.once('exit', drop);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(signal, () => {
      drop();
      process.exit(130);
    });
  return (dir) => {
    scratch = dir;
  };
}

async function dispatch(op: string, root: string, word: string | undefined, words: string[]): Promise<void> {
  if (!root || !root.startsWith('/')) throw new AgentFailure(`the state dir must be an absolute path (got ${JSON.stringify(root ?? '')})`, AGENT_STATUS.badRequest);
  dropToOwner(root);
  switch (op) {
    case 'backup': {
      const out = process.stdout;
      await createArchive(root, decodeParams<'backup'>(word), out, {
        onTotal: (bytes, files) => process.stderr.write(`__TOTAL ${bytes} ${files}\n`),
        onScratch: scratchCleaner(),
      });
      await new Promise<void>((resolve) => (out.writableNeedDrain ? out.once('drain', () => resolve()) : resolve()));
      return;
    }
    case 'restore': {
      const beginSwap = () => {
        for (const sig of ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE'] as const) process.on(sig, () => {});
        process.stdout.on('error', () => {});
      };
      reply(await restore(root, process.stdin, decodeParams<'restore'>(word), beginSwap));
      return;
    }
    case 'confirm-restore':
      reply(confirmRestore(root, decodeParams<'confirm-restore'>(word).how));
      return;
    case 'drop-previous':
      reply(dropPrevious(root, decodeParams<'drop-previous'>(word).name));
      return;
    case 'find-swap':
      reply(findSwap(root, decodeParams<'find-swap'>(word).tag));
      return;
    case 'upgrade-snapshot':
      reply(snapshotState(root, decodeParams<'upgrade-snapshot'>(word).notSnapshotted ?? []));
      return;
    case 'upgrade-snapshot-restore': {
      const p = decodeParams<'upgrade-snapshot-restore'>(word);
      reply(restoreSnapshot(root, p.snapshot, p.notSnapshotted ?? [], p.hold));
      return;
    }
    case 'upgrade-aside-discard': {
      const p = decodeParams<'upgrade-aside-discard'>(word);
      reply(discardAside(root, p.aside, p.ownEntries ?? [], p.holdPath));
      return;
    }
    case 'upgrade-snapshot-drop':
      reply(dropSnapshot(root, decodeParams<'upgrade-snapshot-drop'>(word).snapshot));
      return;
    case 'find-files':
      reply(findFiles(root, decodeParams<'find-files'>(word).globs ?? []));
      return;
    case 'remove-leftovers':
      reply(removeLeftovers(root, decodeParams<'remove-leftovers'>(word).names ?? []));
      return;
    case 'config-read':
      reply(readConfig(root, decodeParams<'config-read'>(word)));
      return;
    case 'config-push':
      reply(await pushConfig(root, decodeParams<'config-push'>(word), process.stdin));
      return;
    case 'config-restore':
      reply(await restoreConfig(root, decodeParams<'config-restore'>(word)));
      return;
    case 'doctor-probe':
      reply(doctorProbe(probeTargets(words), decodeParams<'doctor-probe'>(word)));
      return;
    case 'remove-stale-lock':
      reply(removeStaleLocks(probeTargets(words), decodeParams<'remove-stale-lock'>(word)));
      return;
    default:
      throw new AgentFailure(`unknown request ${JSON.stringify(op)} (is the agent older than clawdfly?)`, AGENT_STATUS.badRequest);
  }
}

/** Runs one request: `argv` = [op, state dir, base64url JSON params, path words…]. Exits with the protocol's status. */
export function main(argv: string[]): void {
  const [op = '', root = '', word, ...words] = argv;
  dispatch(op, root, word, words).then(
    () => process.exit(0),
    (error: unknown) => {
      if (error instanceof AgentFailure) {
        process.stderr.write(`${error.message.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, '?')}\n`);
        process.exit(error.status);
      }
      process.stderr.write(`${error instanceof Error && error.stack ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}

/**
 * Run as a program inside the image by require() (the off-site uploader's way): `node -e
 * 'globalThis.__clawdflyRemote=1;require(process.argv[1])' <this file> <op> <state dir> <params>`.
 */
if ((globalThis as { __clawdflyRemote?: unknown }).__clawdflyRemote !== undefined) main(process.argv.slice(2));
