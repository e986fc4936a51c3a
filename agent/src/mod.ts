/** agent: pulls jobs it can run from the farm and runs them as typed step pipelines. */
export { Agent, type AgentOptions } from "./worker/worker.js";
export { localBuilderTypes, runJob } from "./runner.js";
export type { JobRunContext } from "./run_types.js";
export { SshCommunicator, type SshOptions } from "./communicators/ssh.js";
export { generateTemporaryKeyPair } from "./steps/ssh_keygen.js";
