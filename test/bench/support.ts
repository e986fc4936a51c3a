// What the benchmark needs from the other components, through their entry modules.
export { connectFarm, NatsServer, validateTemplate } from "../../core/src/mod.js";
export { codecs as codecsForBench } from "../../proto/src/mod.js";
