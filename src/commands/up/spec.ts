import { common, defineCommand } from '../types.js';
import { RUNTIMES } from '../../gateway/runtime.js';

/** `Node ≥ <floor> (<package>), …`: each runtime row's own floor. */
const nodeFloors = Object.values(RUNTIMES).map((r) => `≥ ${r.minNode.replace(/\.0$/, '')} (${r.packageName})`).join(', ');

export const upSpec = defineCommand({
  name: 'up',
  summary: `run the project on this computer before paying for a machine (--local): the same image in podman/docker, else Node ${nodeFloors}`,
  options: [
    { flags: '--local', description: 'run on this computer (the only mode so far; Fly is `clawdfly deploy`)' },
    common.dir,
    { flags: '--engine <engine>', description: 'auto | podman | docker | node (auto: podman, then docker, then Node on the host)', defaultValue: 'auto' },
    { flags: '--node <path>', description: 'Node.js binary for the host engine (default: node on PATH; needs the version the gateway needs)' },
    { flags: '--port <port>', description: 'port on 127.0.0.1 (default: internal_port from fly.toml)', parse: 'int' },
    { flags: '--rebuild', description: 'rebuild the image even when the build context is unchanged (container engines)' },
    { flags: '--image <ref>', description: 'run this already-built image instead of building the Dockerfile (container engines)' },
  ],
  examples: ['npx clawdfly up --local', 'npx clawdfly up --local --engine node --node ~/.nvm/versions/node/v22.12.0/bin/node', 'npx clawdfly up --local --port 8080'],
  load: () => import('./index.js'),
});
