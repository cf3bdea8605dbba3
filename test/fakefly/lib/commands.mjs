// fakefly command implementations, one module per flyctl noun. Each handler gets ctx = { dir, env, cwd, flags, args, specified, stdin, backend };
// the shared preamble (app name → logged in → the app exists) is ./app-context.mjs.
export * from './commands-platform.mjs';
export * from './commands-apps.mjs';
export * from './commands-volumes.mjs';
export * from './commands-secrets.mjs';
export * from './commands-deploy.mjs';
export * from './commands-machines.mjs';
export * from './commands-logs.mjs';
export * from './commands-ssh.mjs';
export * from './commands-storage.mjs';
