/** core: what coordinator, agent and CLI share — errors, the template language, plugin config schemas. */
export * from "./errors.js";
