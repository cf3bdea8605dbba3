/**
 * `--to <runtime>[@<version>]`: which row of src/gateway/runtime.ts an upgrade goes to (or a published
 * release with no row, built on one: src/project/runtime-release.ts checks the registry). Without
 * `--to`, the newest row of the maintained line (MAINTAINED_PACKAGE). Anything that is not a known row, or
 * that would go backwards, is refused (exit 2) before any file or flyctl call.
 */
import { UsageError } from '../errors.js';
import { BROKEN_RUNTIMES, findRuntime, MAINTAINED_PACKAGE, resolveRuntimeId, runtimeIds, type GatewayRuntime } from '../gateway/runtime.js';
import { compareVersions } from '../util/version.js';
import { unknownRuntimeRefusal } from '../project/answers.js';

export type UpgradeTarget = { kind: 'same'; runtime: GatewayRuntime } | { kind: 'upgrade'; runtime: GatewayRuntime };

function knownRows(current: GatewayRuntime): string {
  return runtimeIds().map((id) => (id === current.id ? `${id} (this project)` : id)).join(', ');
}

export function resolveUpgradeTarget(spec: string | undefined, current: GatewayRuntime): UpgradeTarget {
  const wanted = (spec ?? MAINTAINED_PACKAGE).trim();
  if (BROKEN_RUNTIMES[wanted]) throw new UsageError(`${wanted} cannot be used: ${BROKEN_RUNTIMES[wanted]}`, `--to <one of: ${knownRows(current)}>`, 'broken-runtime');
  const id = resolveRuntimeId(wanted);
  const runtime = id ? findRuntime(id) : undefined;
  if (!runtime && wanted.startsWith(`${MAINTAINED_PACKAGE}@`)) throw unknownRuntimeRefusal(wanted, '--to', knownRows(current));
  if (!runtime) {
    throw new UsageError(`unknown gateway runtime "${wanted}": clawdfly knows ${knownRows(current)}`, `--to <one of those>, e.g. clawdfly upgrade --to ${resolveRuntimeId(MAINTAINED_PACKAGE)} --dry-run`, 'unknown-runtime');
  }
  if (runtime.id === current.id) return { kind: 'same', runtime };
  const back = 'go back with clawdfly rollback (the image, files and config that ran before; see clawdfly status)';
  if (runtime.packageName === current.packageName && compareVersions(runtime.packageVersion, current.packageVersion) < 0) {
    throw new UsageError(`${runtime.id} is older than ${current.id}: upgrade only goes forward`, back, 'downgrade');
  }
  if (current.packageName === MAINTAINED_PACKAGE && runtime.packageName !== MAINTAINED_PACKAGE) {
    throw new UsageError(`${current.id} → ${runtime.id} is not an upgrade: ${runtime.productName} cannot read the state ${current.productName} keeps`, back, 'downgrade');
  }
  return { kind: 'upgrade', runtime };
}
