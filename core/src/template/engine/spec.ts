/**
 * How a template function is described to the executor. text/template checks arity and converts arguments from
 * the Go function's parameter types, and its messages depend on those types ("expected string; found 1",
 * "wrong type for value; expected int; got string"), so every function declares them.
 */

import type { GoValue } from "./values.js";

/**
 * A parameter's Go type:
 * - `string`, `int`, `bool`: a typed parameter; literals must match, other values must be of that type.
 * - `any`: `interface{}`; a missing value arrives as `null` (Go's nil).
 * - `value`: `reflect.Value` (the comparison and collection builtins); a missing value arrives as `undefined`.
 */
export type ParamType = "string" | "int" | "bool" | "any" | "value";

export interface FuncSpec {
  /** Fixed parameters. */
  readonly params: readonly ParamType[];
  /** Element type of a trailing `...` parameter, if any. */
  readonly variadic?: ParamType;
  /** Set on the builtins `and`/`or`, whose arguments are evaluated only until the result is known. */
  readonly shortCircuit?: "and" | "or";
  /** Runs the function; throws FuncCallError for Go's returned error. */
  readonly call: (args: GoValue[]) => GoValue;
}

export type FuncMap = ReadonlyMap<string, FuncSpec>;
