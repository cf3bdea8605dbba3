/** bind, port, auth-token-bind: can Fly's proxy reach the gateway, and will it agree to listen? */
import { t } from '../../i18n/index.js';
import { projectBind } from '../../project/checks.js';
import { DEFAULT_GATEWAY_PORT, NON_LOOPBACK_BINDS } from '../../gateway/runtime.js';
import type { LogFinding } from '../../gateway/logs.js';
import { bootLines, cmdBind, cmdPort, effectiveConfig, findings, machineCmd, machineEnv, machineGatewayPort } from '../evidence.js';
import type { Check, CheckResult, Evidence } from '../types.js';
import { app, cmdText, isResult, logEvidence, missing, needMachine, tomlCmd } from './common.js';

function configGateway(ev: Evidence, value?: Record<string, unknown>): { bind?: string; port?: number; token?: string; password?: string } {
  const gw = (value ?? effectiveConfig(ev).value)?.['gateway'] as { bind?: unknown; port?: unknown; auth?: { token?: unknown; password?: unknown } } | undefined;
  return {
    bind: typeof gw?.bind === 'string' ? gw.bind : undefined,
    port: typeof gw?.port === 'number' ? gw.port : undefined,
    token: typeof gw?.auth?.token === 'string' ? gw.auth.token : undefined,
    password: typeof gw?.auth?.password === 'string' ? gw.auth.password : undefined,
  };
}

const isOpen = (bind: string | undefined) => (NON_LOOPBACK_BINDS as readonly string[]).includes(bind ?? '');
const LOOPBACK_HOSTS = ['127.0.0.1', '[::1]', 'localhost'];

/** The bind the gateway resolves: --bind, else config gateway.bind, else loopback. */
function effectiveBind(cmd: string[] | undefined, ev: Evidence, configValue?: Record<string, unknown>): string {
  return cmdBind(cmd) ?? configGateway(ev, configValue).bind ?? 'loopback';
}

export const bindCheck: Check = {
  id: 'bind',
  title: 'gateway listens beyond loopback (--bind lan)',
  run(ev) {
    const evidence: string[] = [];
    const problems: string[] = [];
    const localBind = projectBind(ev.project);
    if (!isOpen(localBind)) {
      problems.push(t('doctor.bind.problem.toml', { bind: localBind }));
      evidence.push(`fly.toml [processes] app = "${ev.project.fly.processCommand ?? ''}"`);
    }
    if (!ev.offline) {
      const m = needMachine(ev);
      if (isResult(m)) return problems.length ? fail(problems, evidence, ev) : m;
      const cmd = machineCmd(m);
      const bind = effectiveBind(cmd, ev);
      if (!isOpen(bind)) {
        problems.push(t('doctor.bind.problem.machine', { machine: m.id, bind }));
        evidence.push(`machine ${m.id} init.cmd: ${cmdText(cmd)}`);
      }
      // Only lines that name an address count (some runtimes' listening lines name none).
      const listening = findings(bootLines(ev)).filter((f): f is Extract<LogFinding, { kind: 'listening' }> => f.kind === 'listening' && f.host !== undefined);
      if (listening.length && listening.every((f) => f.kind === 'listening' && LOOPBACK_HOSTS.includes(f.host!))) {
        problems.push(t('doctor.bind.problem.loopbackLog'));
        evidence.push(...listening.map((f) => logEvidence(f.line)));
      }
      if (!problems.length) {
        const open = listening.find((f) => f.kind === 'listening' && !LOOPBACK_HOSTS.includes(f.host!));
        return { status: 'ok', summary: t('doctor.bind.okMachine', { bind, listens: open ? t('doctor.bind.listensOn', { host: open.host ?? '', port: open.port ?? '' }) : '' }) };
      }
    }
    if (!problems.length) return { status: 'ok', summary: t('doctor.bind.okToml', { bind: localBind }) };
    return fail(problems, evidence, ev);
  },
  fixKind: () => 'redeploy',
};

function fail(problems: string[], evidence: string[], ev: Evidence): CheckResult {
  return {
    status: 'fail',
    summary: t('doctor.bind.fail', { problems: problems.join('; ') }),
    evidence,
    fix: t('doctor.bind.fix', { doesBoth: t('doctor.doesBoth') }),
  };
}

export const portCheck: Check = {
  id: 'port',
  title: 'internal_port equals the gateway port',
  run(ev) {
    const evidence: string[] = [];
    const problems: string[] = [];
    const fly = ev.project.fly;
    const envPort = Object.entries(fly.env).find(([k]) => k === ev.project.runtime.env.gatewayPort)?.[1];
    const tomlPort = cmdPort(tomlCmd(ev)) ?? (envPort ? Number(envPort) : undefined) ?? configGateway(ev, ev.localConfig?.value as Record<string, unknown> | undefined).port ?? DEFAULT_GATEWAY_PORT;
    if (fly.internalPort !== undefined && fly.internalPort !== tomlPort) {
      problems.push(t('doctor.port.problem.toml', { internalPort: fly.internalPort, gatewayPort: tomlPort }));
      evidence.push(`fly.toml [http_service] internal_port = ${fly.internalPort}`, `fly.toml [processes] app = "${fly.processCommand ?? ''}"`);
    }
    if (!ev.offline) {
      const m = needMachine(ev);
      if (isResult(m)) return problems.length ? portFail(problems, evidence, ev) : m;
      const gwPort = machineGatewayPort(m) ?? configGateway(ev).port ?? DEFAULT_GATEWAY_PORT;
      const ports = (m.config?.services ?? []).map((s) => s.internal_port).filter((p): p is number => typeof p === 'number');
      if (ports.length && !ports.includes(gwPort)) {
        problems.push(t('doctor.port.problem.machine', { machine: m.id, ports: ports.join(', '), gatewayPort: gwPort }));
        evidence.push(`machine ${m.id} services[].internal_port: ${ports.join(', ')}`, `machine ${m.id} init.cmd: ${cmdText(machineCmd(m))}`);
        const envValue = machineEnv(m)[ev.project.runtime.env.gatewayPort];
        if (envValue) evidence.push(`machine env ${ev.project.runtime.env.gatewayPort}=${envValue}`);
        for (const c of m.checks ?? []) if (c.status === 'critical') evidence.push(`health check ${c.name ?? ''}: critical ${c.output ?? ''}`.trim());
      }
      if (!problems.length) return { status: 'ok', summary: ports.length ? t('doctor.port.okMachine', { ports: ports.join(', '), gatewayPort: gwPort }) : t('doctor.port.okPrivate', { gatewayPort: gwPort }) };
    }
    if (!problems.length) return { status: 'ok', summary: t('doctor.port.okToml', { internalPort: fly.internalPort ?? '(none)', gatewayPort: tomlPort }) };
    return portFail(problems, evidence, ev);
  },
  fixKind: () => 'redeploy',
};

function portFail(problems: string[], evidence: string[], ev: Evidence): CheckResult {
  const p = ev.project.fly.internalPort;
  return {
    status: 'fail',
    summary: t('doctor.port.fail', { problems: problems.join('; ') }),
    evidence,
    fix: t('doctor.port.fix', { port: p ?? '<internal_port>', doesBoth: t('doctor.doesBoth') }),
  };
}

export const authTokenBindCheck: Check = {
  id: 'auth-token-bind',
  title: 'a non-loopback bind has a gateway token',
  run(ev) {
    const tokenName = ev.project.runtime.env.gatewayToken;
    const refused = findings(bootLines(ev)).filter((f) => f.kind === 'refuse-bind');
    if (ev.offline) {
      const bind = projectBind(ev.project);
      if (isOpen(bind) && !ev.project.secrets[tokenName]) {
        return { status: 'warn', summary: t('doctor.token.offlineMissing', { secret: tokenName }), fix: t('doctor.token.offlineFix') };
      }
      return { status: 'ok', summary: isOpen(bind) ? t('doctor.token.offlineOk', { secret: tokenName }) : t('doctor.token.loopback') };
    }
    const m = needMachine(ev);
    if (isResult(m)) return m;
    const skip = missing(ev, ev.secrets, 'the secret names');
    const names = new Set((ev.secrets?.value ?? []).map((s) => s.name));
    const cfg = configGateway(ev);
    const hasAuth = names.has(tokenName) || !!cfg.token || !!cfg.password;
    const bind = effectiveBind(machineCmd(m), ev);
    const evidence = refused.map((f) => logEvidence(f.line));
    if (refused.length || (!skip && isOpen(bind) && !hasAuth)) {
      if (!skip) evidence.push(`flyctl secrets list: ${names.has(tokenName) ? `${tokenName} set` : `no ${tokenName}`}`);
      evidence.push(`machine ${m.id} bind: ${bind}`);
      return {
        status: 'fail',
        summary: t('doctor.token.refused', { bind }),
        evidence,
        fix: `printf '${tokenName}=%s\\n' "$(openssl rand -hex 32)" | fly secrets import -a ${app(ev)}   ${t('doctor.token.fixNote')}`,
      };
    }
    if (skip) return skip;
    return { status: 'ok', summary: isOpen(bind) ? t('doctor.token.okBind', { bind, auth: names.has(tokenName) ? tokenName : t('doctor.token.authFromConfig') }) : t('doctor.token.okLoopback', { bind }) };
  },
  fixKind: () => 'secrets',
};
