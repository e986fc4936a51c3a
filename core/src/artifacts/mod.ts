/** Artifacts: the catalog in KV, the pluggable store, hashing transfers, retention and the build cache's lookup. */
export * from "./artifacts.js";
export * from "./catalog.js";
export * from "./config.js";
export * from "./fingerprint.js";
export * from "./store.js";
export * from "./transfer.js";
export { ARTIFACT_FILES_STORE, NatsObjectStore } from "./nats_store.js";
export { DirectoryStore, DIR_CHUNK_BYTES } from "./dir_store.js";
export { S3Store, S3_PARTS_IN_FLIGHT, sendUnsignedPayloads } from "./s3_store.js";
export * from "./upload.js";
