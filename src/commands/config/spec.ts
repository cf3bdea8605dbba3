import { common, defineCommand } from '../types.js';

const machine = { flags: '--machine <id>', description: 'machine to use (default: the app\'s started machine)' } as const;
const remoteOptions = [common.dir, common.app, machine, common.flyctl, common.json] as const;

export const configValidateSpec = defineCommand({
  name: 'validate',
  summary: 'check the gateway config file against the gateway\'s schema (JSON or JSON5); exit 1 when invalid',
  args: '[file]',
  options: [common.dir, common.json],
  examples: ['clawdfly config validate', 'clawdfly config validate ./my-config.json --json'],
  load: () => import('./validate.js'),
});

export const configPushSpec = defineCommand({
  name: 'push',
  summary: 'validate, diff, upload atomically (with a backup), and apply to the running gateway',
  options: [
    ...remoteOptions,
    common.yes,
    { flags: '--restart', description: 'restart the machine after the upload even if the gateway reloaded it' },
    { flags: '--no-restart', description: 'never restart the machine (the change waits for the next boot if not hot-reloaded)' },
    { flags: '--wait <seconds>', description: 'how long to wait for the gateway to log its reload (default: 30)', env: 'CLAWDFLY_RELOAD_WAIT', parse: 'int' },
    { flags: '--keep-backups <n>', description: 'timestamped backups to keep on the machine (default: 5)', parse: 'int' },
  ],
  examples: ['clawdfly config push', 'clawdfly config push --yes --no-restart'],
  load: () => import('./push.js'),
});

export const configPullSpec = defineCommand({
  name: 'pull',
  summary: 'copy the gateway\'s config file (with its own additions) into this folder',
  options: [...remoteOptions, common.yes],
  examples: ['clawdfly config pull --yes'],
  load: () => import('./pull.js'),
});

export const configDiffSpec = defineCommand({
  name: 'diff',
  summary: 'compare local and remote gateway config semantically; exit 0 when equal, 1 when different',
  options: remoteOptions,
  examples: ['clawdfly config diff'],
  load: () => import('./diff.js'),
});

export const configSpec = defineCommand({
  name: 'config',
  summary: 'check the gateway config and move it safely between this folder and the running gateway',
  subcommands: [configValidateSpec, configPushSpec, configPullSpec, configDiffSpec],
});
