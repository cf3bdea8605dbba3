/** secrets (and auth-token-bind): import the missing ones from the local secrets file; generate the gateway token if there is none. */
import { generateGatewayToken, writeSecrets } from '../../project/secrets.js';
import { formatSecretsImport } from '../../fly/secrets-import.js';
import { PROJECT_FILES } from '../../project/paths.js';
import { registerSecret } from '../../ui/redact.js';
import { neededSecrets } from '../checks/secrets.js';
import { blocked } from './common.js';
import type { Fix } from './types.js';

export const secretsFix: Fix = {
  kind: 'secrets',
  plan(checks, ev) {
    const { project } = ev;
    const tokenName = project.runtime.env.gatewayToken;
    const names = new Set((ev.secrets?.value ?? []).map((s) => s.name));
    const wanted = new Set<string>();
    if (checks.includes('secrets')) for (const n of neededSecrets(ev).required) if (!names.has(n.name)) wanted.add(n.name);
    if (checks.includes('auth-token-bind') && !names.has(tokenName)) wanted.add(tokenName);
    const values: Record<string, string> = {};
    const generate = wanted.has(tokenName) && !project.secrets[tokenName];
    const absent: string[] = [];
    for (const name of wanted) {
      if (project.secrets[name]) values[name] = project.secrets[name]!;
      else if (name !== tokenName) absent.push(name);
    }
    if (absent.length && Object.keys(values).length === 0 && !generate) {
      return blocked(this.kind, checks, `no local value for ${absent.join(', ')} in ${PROJECT_FILES.secrets} (add it: clawdfly init --secrets-stdin)`);
    }
    return {
      kind: this.kind,
      checks,
      steps: [
        ...(generate ? [`generate ${tokenName} into ${PROJECT_FILES.secrets}`] : []),
        `fly secrets import -a ${project.app}  ← ${[...Object.keys(values), ...(generate ? [tokenName] : [])].join(', ')} from ${PROJECT_FILES.secrets} (over stdin; restarts the machine)`,
        ...(absent.length ? [`still missing locally (set them yourself): ${absent.join(', ')}`] : []),
      ],
      async apply(client, progress) {
        if (generate) {
          const token = generateGatewayToken();
          registerSecret(token);
          values[tokenName] = token;
          await writeSecrets(project.dir, { ...project.secrets, [tokenName]: token });
        }
        progress('importing secrets');
        await client.importSecrets(formatSecretsImport(values), false);
      },
    };
  },
};
