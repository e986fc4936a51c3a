/** The test harness: real components on ephemeral ports. */
export { TestFarm, tempDir, until, watchToEnd, type TestAgentOptions } from "./harness.js";
export { runKiln, runPacker, REPO_ROOT, PACKER, type ProcessResult } from "./cli_process.js";
