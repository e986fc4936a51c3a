/** Artifacts: the catalog in KV, the pluggable store, hashing transfers, retention and the build cache's lookup. */
export * from "./artifacts.js";
export * from "./catalog.js";
export * from "./config.js";
export * from "./fingerprint.js";
export * from "./store.js";
export * from "./transfer.js";
export { ARTIFACT_FILES_STORE } from "./nats_store.js";
export * from "./upload.js";
