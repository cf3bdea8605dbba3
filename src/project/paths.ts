/** Names of the files a clawdfly project holds, relative to its directory. */
export const PROJECT_FILES = {
  flyToml: 'fly.toml',
  dockerfile: 'Dockerfile',
  dockerignore: '.dockerignore',
  gitignore: '.gitignore',
  runtimeDir: 'runtime',
  stateDir: '.clawdfly',
  answers: '.clawdfly/answers.json',
  /** sha256 of each file as init last wrote it: tells "the user edited it" from "the answers changed". */
  written: '.clawdfly/written.json',
  secrets: '.clawdfly/secrets.env',
  localData: '.clawdfly/local-data',
} as const;
