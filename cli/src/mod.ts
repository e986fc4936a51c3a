/** cli: the `kiln` command, the embedded farm and the coordinator client. */
export { main, describeFailure } from "./main.js";
export { EmbeddedFarm, type EmbeddedFarmOptions } from "./embedded.js";
export { CoordinatorConnection } from "./client.js";
export { downloadArtifacts } from "./commands/artifacts.js";
export { PackerUi, formatDuration } from "./ui/packer_ui.js";
/** Packer's machine-readable escaping of one data field (core's `machineArg`, under the name cli has exported). */
export { machineArg as machineEscape } from "../../core/src/mod.js";
