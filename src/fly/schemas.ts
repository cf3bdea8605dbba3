/**
 * The zod schemas of flyctl's JSON answers (types in ./json.ts). Loaded by FlyClient on its first
 * parse (flySchemas()), so commands that never parse a flyctl answer do not load zod.
 */
import { z } from 'zod';

export { z };

export const VersionSchema = z.object({ version: z.string() }).loose();

export const WhoamiSchema = z.object({ email: z.string() }).loose();

export const AppStatusSchema = z
  .object({
    name: z.string(),
    status: z.string().optional(),
    deployed: z.boolean().optional(),
    hostname: z.string().optional(),
    machines: z.array(z.unknown()).nullish(),
  })
  .loose();

export const VolumeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    state: z.string().optional(),
    size_gb: z.number().optional(),
    region: z.string(),
    attached_machine_id: z.string().nullish(),
  })
  .loose();

/** `ips list --json` (GraphQL struct: PascalCase keys, read case-insensitively). */
export const IpAddressSchema = z.object({ address: z.string(), type: z.string(), region: z.string().optional() }).loose();

export const SecretSchema = z.object({ name: z.string(), digest: z.string().optional(), status: z.string().optional() }).loose();

export const ExitEventSchema = z
  .object({
    exit_code: z.number().optional(),
    guest_exit_code: z.number().optional(),
    oom_killed: z.boolean().optional(),
    requested_stop: z.boolean().optional(),
    signal: z.number().optional(),
    exited_at: z.string().optional(),
  })
  .loose();

export const MachineEventSchema = z
  .object({
    type: z.string(),
    status: z.string().optional(),
    source: z.string().optional(),
    timestamp: z.number().optional(),
    request: z
      .object({
        exit_event: ExitEventSchema.optional(),
        // Note the capitalised key: some events nest the exit here (flyctl.md §2.9).
        MonitorEvent: z.object({ exit_event: ExitEventSchema.optional() }).loose().nullish(),
        restart_count: z.number().optional(),
      })
      .loose()
      .nullish(),
  })
  .loose();

export const MachineSchema = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    state: z.string(),
    region: z.string().optional(),
    image_ref: z.object({ repository: z.string().optional(), tag: z.string().optional(), digest: z.string().optional(), labels: z.record(z.string(), z.string()).nullish() }).loose().nullish(),
    config: z
      .object({
        init: z.object({ cmd: z.array(z.string()).nullish(), entrypoint: z.array(z.string()).nullish(), exec: z.array(z.string()).nullish() }).loose().nullish(),
        guest: z.object({ cpu_kind: z.string().optional(), cpus: z.number().optional(), memory_mb: z.number().optional() }).loose().nullish(),
        env: z.record(z.string(), z.string()).nullish(),
        mounts: z.array(z.object({ path: z.string(), volume: z.string().optional(), name: z.string().optional(), size_gb: z.number().optional() }).loose()).nullish(),
        services: z.array(z.object({ internal_port: z.number().optional() }).loose()).nullish(),
        restart: z.object({ policy: z.string().optional(), max_retries: z.number().optional() }).loose().nullish(),
        metadata: z.record(z.string(), z.string()).nullish(),
        image: z.string().optional(),
      })
      .loose()
      .nullish(),
    events: z.array(MachineEventSchema).nullish(),
    checks: z.array(z.object({ name: z.string().optional(), status: z.string().optional(), output: z.string().optional() }).loose()).nullish(),
  })
  .loose();

export const LogEntrySchema = z
  .object({ level: z.string().optional(), instance: z.string().optional(), message: z.string(), region: z.string().optional(), timestamp: z.string().optional() })
  .loose();

/** One row of `volumes snapshots list --json` (snake_case, flyctl-day2.md §4.2). */
export const SnapshotSchema = z
  .object({ id: z.string(), status: z.string().optional(), size: z.number().optional(), created_at: z.string().optional(), retention_days: z.number().nullish() })
  .loose();

export const DeployTokenSchema = z.object({ token: z.string().min(1) });
