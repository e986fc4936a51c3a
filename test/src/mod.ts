/** The test harness: real components on ephemeral ports. */
export { TestFarm, tempDir, type TestAgentOptions } from "./harness.js";
export { runKiln, runPacker, REPO_ROOT, PACKER, type ProcessResult } from "./cli_process.js";
