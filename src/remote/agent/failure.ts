import { AGENT_STATUS, type AgentStatus } from './protocol.js';

/** A refusal or failure the agent reports as one line on stderr and an exit status (protocol.ts). */
export class AgentFailure extends Error {
  constructor(
    message: string,
    readonly status: AgentStatus,
  ) {
    super(message);
  }
}

export function notADirectory(path: string): AgentFailure {
  return new AgentFailure(`${path} is not a directory`, AGENT_STATUS.notDir);
}
