/** The farm's shared NATS layer: names, stream/bucket setup, state store and the build state machine. */
export * from "./names.js";
export * from "./setup.js";
export * from "./store.js";
export * from "./lifecycle.js";
export * from "./transient.js";
