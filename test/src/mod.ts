/** The test harness: real components on ephemeral ports. */
export { TestFarm, tempDir, type TestAgentOptions } from "./harness.js";
