/** Names of the files a clawdfly project holds, relative to its directory. */
export const PROJECT_FILES = {
  flyToml: 'fly.toml',
  dockerfile: 'Dockerfile',
  dockerignore: '.dockerignore',
  gitignore: '.gitignore',
  config: 'clawdbot.json',
  runtimeDir: 'runtime',
  stateDir: '.clawdfly',
  answers: '.clawdfly/answers.json',
  secrets: '.clawdfly/secrets.env',
  localData: '.clawdfly/local-data',
} as const;
