/** cli: the `kiln` command, the embedded farm and the coordinator client. */
export { main, describeFailure } from "./main.js";
export { EmbeddedFarm, type EmbeddedFarmOptions } from "./embedded.js";
export { CoordinatorConnection } from "./client.js";
export { PackerUi, formatDuration, machineEscape } from "./ui/packer_ui.js";
