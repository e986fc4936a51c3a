/**
 * Executes a parsed template: a port of Go 1.19's text/template exec.go. The structure follows Go's closely on
 * purpose: which node an error is reported "at" depends on the order in which Go evaluates things (`s.at(node)`),
 * and users compare kiln's messages with Packer's.
 */

import type {
  BranchNode, ChainNode, CommandNode, FieldNode, IdentifierNode, ListNode, Node, NumberNode, Operand, PipeNode,
  TemplateNode, VariableNode,
} from "./ast.js";
import { nodeString } from "./ast.js";
import { FuncCallError, TemplateEngineError } from "./errors.js";
import { formatValue } from "./fmt.js";
import { ROOT_NAME, type ParsedTemplate } from "./parser.js";
import type { FuncMap, FuncSpec, ParamType } from "./spec.js";
import { quote } from "./strconv.js";
import { type GoMap, type GoValue, fromJs, isTrue, kindOf, sortedKeys, typeName, utf8Length } from "./values.js";

/**
 * Go allows 100000 nested template calls; JS stacks are smaller, and a template that deep is a runaway
 * recursion anyway.
 */
export const MAX_EXEC_DEPTH = 1000;

/** The "no value passed" marker for a pipeline's final argument (Go's missingVal). */
const MISSING: unique symbol = Symbol("missing");
type Final = GoValue | typeof MISSING;

/** `.` plus whether it came out of a container (then it is an interface{} value, which shows in error texts). */
interface Dot {
  readonly v: GoValue;
  readonly boxed: boolean;
}

class BreakSignal {}
class ContinueSignal {}
const BREAK = new BreakSignal();
const CONTINUE = new ContinueSignal();

interface Variable {
  readonly name: string;
  value: GoValue;
}

/** Go type names of parameter types, for "expected ..." messages. */
const PARAM_TYPE_NAME: Record<ParamType, string> = {
  string: "string",
  int: "int",
  bool: "bool",
  any: "interface {}",
  value: "reflect.Value",
};

class State {
  private node: Node | null = null;
  private vars: Variable[];
  private depth = 0;
  private tmplName = ROOT_NAME;
  private readonly out: string[] = [];

  constructor(
    private readonly tmpl: ParsedTemplate,
    private readonly funcs: FuncMap,
    dot: GoValue,
  ) {
    this.vars = [{ name: "$", value: dot }];
  }

  result(): string {
    return this.out.join("");
  }

  // --- errors ------------------------------------------------------------------------------------------------

  private at(node: Node): void {
    this.node = node;
  }

  errorf(message: string, cause?: unknown): never {
    const name = quote(this.tmplName);
    let full: string;
    if (this.node === null) full = `template: ${this.tmplName}: ${message}`;
    else {
      full = `template: ${this.location(this.node)}: executing ${name} at <${nodeString(this.node)}>: ${message}`;
    }
    throw new TemplateEngineError(full, "exec", cause === undefined ? undefined : { cause });
  }

  /** Go's Tree.ErrorContext location: `root:LINE:COL` with COL a 0-based byte offset within the line. */
  private location(node: Node): string {
    const text = this.tmpl.text.slice(0, node.pos);
    const nl = text.lastIndexOf("\n");
    const line = this.tmpl.lineAt(node.pos);
    const col = utf8Length(nl < 0 ? text : text.slice(nl + 1));
    return `${ROOT_NAME}:${line}:${col}`;
  }

  // --- variables ---------------------------------------------------------------------------------------------

  private mark(): number {
    return this.vars.length;
  }
  private pop(mark: number): void {
    this.vars.length = mark;
  }
  private push(name: string, value: GoValue): void {
    this.vars.push({ name, value });
  }
  private setVar(name: string, value: GoValue): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as Variable;
      if (v.name === name) {
        v.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }
  private setTopVar(n: number, value: GoValue): void {
    const v = this.vars[this.vars.length - n];
    if (v !== undefined) v.value = value;
  }
  private varValue(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const v = this.vars[i] as Variable;
      if (v.name === name) return v.value;
    }
    this.errorf(`undefined variable: ${name}`);
  }

  // --- walking -----------------------------------------------------------------------------------------------

  walk(dot: Dot, node: Node): void {
    this.at(node);
    switch (node.type) {
      case "action": {
        // Declarations are not printed; their variables live until the enclosing {{end}}.
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case "break":
        throw BREAK;
      case "continue":
        throw CONTINUE;
      case "comment":
        return;
      case "if":
      case "with":
        this.walkIfOrWith(dot, node);
        return;
      case "list":
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case "range":
        this.walkRange(dot, node);
        return;
      case "template":
        this.walkTemplate(dot, node);
        return;
      case "text":
        this.out.push(node.text);
        return;
      default:
        this.errorf(`unknown node: ${nodeString(node)}`);
    }
  }

  private walkIfOrWith(dot: Dot, node: BranchNode): void {
    const mark = this.mark();
    try {
      const val = this.evalPipeline(dot, node.pipe);
      if (isTrue(val)) {
        this.walk(node.type === "with" ? { v: val, boxed: false } : dot, node.list);
      } else if (node.elseList !== null) {
        this.walk(dot, node.elseList);
      }
    } finally {
      this.pop(mark);
    }
  }

  private walkRange(dot: Dot, r: BranchNode): void {
    this.at(r);
    const mark = this.mark();
    try {
      const val = this.evalPipeline(dot, r.pipe);
      const bodyMark = this.mark();
      const oneIteration = (index: GoValue, elem: GoValue): void => {
        // The element is the last declared variable, the index the one before it.
        if (r.pipe.decl.length > 0) this.setTopVar(1, elem);
        if (r.pipe.decl.length > 1) this.setTopVar(2, index);
        try {
          this.walk({ v: elem, boxed: true }, r.list);
        } catch (e) {
          if (e !== CONTINUE) throw e;
        } finally {
          this.pop(bodyMark);
        }
      };
      const loop = (body: () => void): void => {
        try {
          body();
        } catch (e) {
          if (e !== BREAK) throw e;
        }
      };
      switch (kindOf(val)) {
        case "slice": {
          const arr = val as readonly unknown[];
          if (arr.length === 0) break;
          loop(() => arr.forEach((el, i) => oneIteration(BigInt(i), fromJs(el) ?? null)));
          return;
        }
        case "map": {
          const m = val as GoMap;
          const keys = sortedKeys(m);
          if (keys.length === 0) break;
          loop(() => keys.forEach((k) => oneIteration(k, fromJs(m[k]) ?? null)));
          return;
        }
        case "invalid":
          break; // a nil map and the like: not an error, runs {{else}}
        default:
          this.errorf(`range can't iterate over ${formatValue(val)}`);
      }
      if (r.elseList !== null) this.walk(dot, r.elseList);
    } finally {
      this.pop(mark);
    }
  }

  private walkTemplate(dot: Dot, t: TemplateNode): void {
    this.at(t);
    const tree = this.tmpl.trees.get(t.name);
    if (tree === undefined) this.errorf(`template ${quote(t.name)} not defined`);
    if (this.depth === MAX_EXEC_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_EXEC_DEPTH})`);
    const newDot = t.pipe === null ? undefined : this.evalPipeline(dot, t.pipe);
    const saved = { vars: this.vars, tmplName: this.tmplName, depth: this.depth };
    // No dynamic scoping: the invoked template sees only $ (its dot).
    this.vars = [{ name: "$", value: newDot }];
    this.tmplName = t.name;
    this.depth++;
    try {
      this.walk({ v: newDot, boxed: false }, tree);
    } finally {
      this.vars = saved.vars;
      this.tmplName = saved.tmplName;
      this.depth = saved.depth;
    }
  }

  private printValue(n: Node, v: GoValue): void {
    this.at(n);
    if (v === undefined) {
      this.out.push("<no value>");
      return;
    }
    if (kindOf(v) === "func") this.errorf(`can't print ${nodeString(n)} of type ${typeName(v)}`);
    this.out.push(formatValue(v));
  }

  // --- evaluation --------------------------------------------------------------------------------------------

  private evalPipeline(dot: Dot, pipe: PipeNode): GoValue {
    this.at(pipe);
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // An interface{} holding nil is no value at all once it leaves a pipeline stage.
      if (value === null) value = undefined;
    }
    const result = value === MISSING ? undefined : value;
    for (const v of pipe.decl) {
      const name = v.ident[0] ?? "";
      if (pipe.isAssign) this.setVar(name, result);
      else this.push(name, result);
    }
    return result;
  }

  private notAFunction(args: readonly Operand[] | null, final: Final): void {
    if ((args !== null && args.length > 1) || final !== MISSING) {
      this.errorf(`can't give argument to non-function ${args?.[0] === undefined ? "" : nodeString(args[0])}`);
    }
  }

  private evalCommand(dot: Dot, cmd: CommandNode, final: Final): GoValue {
    const first = cmd.args[0] as Operand;
    switch (first.type) {
      case "field":
        return this.evalFieldNode(dot, first, cmd.args, final);
      case "chain":
        return this.evalChainNode(dot, first, cmd.args, final);
      case "identifier":
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case "pipe":
        // A parenthesized pipeline takes no arguments.
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case "variable":
        return this.evalVariableNode(first, cmd.args, final);
      default:
        break;
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case "bool":
        return first.value;
      case "dot":
        return dot.v;
      case "nil":
        this.errorf("nil is not a command");
      case "number":
        return this.idealConstant(first);
      case "string":
        return first.text;
    }
  }

  private idealConstant(c: NumberNode): GoValue {
    this.at(c);
    const isHexInt = c.text.length > 2 && c.text[0] === "0" && (c.text[1] === "x" || c.text[1] === "X") && !/[pP]/.test(c.text);
    const isRuneInt = c.text[0] === "'";
    if (c.isComplex && c.complex !== null) return c.complex;
    if (c.isFloat && !isHexInt && !isRuneInt && /[.eEpP]/.test(c.text)) return c.float64;
    if (c.isInt) return c.int64;
    if (c.isUint) this.errorf(`${c.text} overflows int`);
    return undefined;
  }

  private evalFieldNode(dot: Dot, field: FieldNode, args: readonly Operand[] | null, final: Final): GoValue {
    this.at(field);
    return this.evalFieldChain(dot.v, dot.boxed, field.ident, args, final);
  }

  private evalChainNode(dot: Dot, chain: ChainNode, args: readonly Operand[] | null, final: Final): GoValue {
    this.at(chain);
    if (chain.node.type === "nil") this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, null, chain.node);
    return this.evalFieldChain(pipe, false, chain.field, args, final);
  }

  private evalVariableNode(v: VariableNode, args: readonly Operand[] | null, final: Final): GoValue {
    this.at(v);
    const value = this.varValue(v.ident[0] ?? "");
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(value, false, v.ident.slice(1), args, final);
  }

  private evalFieldChain(
    receiver: GoValue,
    boxed: boolean,
    ident: readonly string[],
    args: readonly Operand[] | null,
    final: Final,
  ): GoValue {
    const n = ident.length;
    let r = receiver;
    let b = boxed;
    for (let i = 0; i < n - 1; i++) {
      r = this.evalField(ident[i] ?? "", null, MISSING, r, b);
      b = true; // values inside a map[string]interface{} are interface values
    }
    return this.evalField(ident[n - 1] ?? "", args, final, r, b);
  }

  private evalField(
    fieldName: string,
    args: readonly Operand[] | null,
    final: Final,
    receiver: GoValue,
    boxed: boolean,
  ): GoValue {
    // Missing map keys are invalid values; further fields of them are too (missingkey=default).
    if (receiver === undefined) return undefined;
    const typ = boxed || receiver === null ? "interface {}" : typeName(receiver);
    if (receiver === null) this.errorf(`nil pointer evaluating ${typ}.${fieldName}`);
    if (kindOf(receiver) === "map") {
      const hasArgs = (args !== null && args.length > 1) || final !== MISSING;
      if (hasArgs) this.errorf(`${fieldName} is not a method but has arguments`);
      const m = receiver as GoMap;
      return Object.prototype.hasOwnProperty.call(m, fieldName) ? (fromJs(m[fieldName]) ?? null) : undefined;
    }
    this.errorf(`can't evaluate field ${fieldName} in type ${typ}`);
  }

  private evalFunction(
    dot: Dot,
    node: IdentifierNode,
    cmd: Node,
    args: readonly Operand[] | null,
    final: Final,
  ): GoValue {
    this.at(node);
    const name = node.ident;
    const fn = this.funcs.get(name);
    if (fn === undefined) this.errorf(`${quote(name)} is not a defined function`);
    return this.evalCall(dot, fn, cmd, name, args, final);
  }

  private evalCall(
    dot: Dot,
    fn: FuncSpec,
    node: Node,
    name: string,
    allArgs: readonly Operand[] | null,
    final: Final,
  ): GoValue {
    const args = allArgs === null ? [] : allArgs.slice(1); // the zeroth arg is the function name
    const numIn = args.length + (final !== MISSING ? 1 : 0);
    let numFixed = args.length;
    if (fn.variadic !== undefined) {
      numFixed = fn.params.length;
      if (numIn < numFixed) {
        this.errorf(`wrong number of args for ${name}: want at least ${fn.params.length} got ${args.length}`);
      }
    } else if (numIn !== fn.params.length) {
      this.errorf(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }

    if (fn.shortCircuit !== undefined) {
      // and/or evaluate arguments only until the result is known.
      let v: GoValue = undefined;
      for (const arg of args) {
        v = this.evalArg(dot, "value", arg);
        if (isTrue(v) === (fn.shortCircuit === "or")) return v;
      }
      if (final !== MISSING) v = this.validateType(final, "value");
      return v;
    }

    const argv: GoValue[] = [];
    let i = 0;
    for (; i < numFixed && i < args.length; i++) {
      argv.push(this.evalArg(dot, fn.params[i] ?? "any", args[i] as Operand));
    }
    if (fn.variadic !== undefined) {
      for (; i < args.length; i++) argv.push(this.evalArg(dot, fn.variadic, args[i] as Operand));
    }
    if (final !== MISSING) {
      let t: ParamType;
      if (fn.variadic !== undefined) t = numIn - 1 < numFixed ? (fn.params[numIn - 1] ?? "any") : fn.variadic;
      else t = fn.params[fn.params.length - 1] ?? "any";
      argv.push(this.validateType(final, t));
    }
    try {
      return fn.call(argv);
    } catch (e) {
      if (e instanceof FuncCallError) {
        this.at(node);
        this.errorf(`error calling ${name}: ${e.message}`, e.cause ?? e);
      }
      throw e;
    }
  }

  /** Go's validateType: checks a computed value against a parameter type. */
  private validateType(value: GoValue, typ: ParamType | null): GoValue {
    if (value === undefined) {
      if (typ === null || typ === "value") return undefined;
      if (typ === "any") return null;
      this.errorf(`invalid value; expected ${PARAM_TYPE_NAME[typ]}`);
    }
    // reflect.Value parameters receive the interface value itself (a nil one stays null, see builtins.ts).
    if (typ === null || typ === "any" || typ === "value") return value;
    const actual = value === null ? "interface {}" : typeName(value);
    if (actual !== PARAM_TYPE_NAME[typ]) {
      this.errorf(`wrong type for value; expected ${PARAM_TYPE_NAME[typ]}; got ${actual}`);
    }
    return value;
  }

  /** Go's evalArg: evaluates one argument for a parameter of the given type (null: no conversion at all). */
  private evalArg(dot: Dot, typ: ParamType | null, n: Operand): GoValue {
    this.at(n);
    switch (n.type) {
      case "dot":
        return this.validateType(dot.v, typ);
      case "nil":
        if (typ === null || typ === "any") return null;
        if (typ === "value") return undefined;
        this.errorf(`cannot assign nil to ${PARAM_TYPE_NAME[typ]}`);
      case "field":
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), typ);
      case "variable":
        return this.validateType(this.evalVariableNode(n, null, MISSING), typ);
      case "pipe":
        return this.validateType(this.evalPipeline(dot, n), typ);
      case "identifier": {
        const v = this.evalFunction(dot, n, n, null, MISSING);
        return this.validateType(v, typ);
      }
      case "chain":
        return this.validateType(this.evalChainNode(dot, n, null, MISSING), typ);
      default:
        break;
    }
    switch (typ) {
      case "bool":
        if (n.type === "bool") return n.value;
        this.errorf(`expected bool; found ${nodeString(n)}`);
      case "int":
        if (n.type === "number" && n.isInt) return n.int64;
        this.errorf(`expected integer; found ${nodeString(n)}`);
      case "string":
        if (n.type === "string") return n.text;
        this.errorf(`expected string; found ${nodeString(n)}`);
      default:
        return this.evalEmptyInterface(n);
    }
  }

  private evalEmptyInterface(n: Operand): GoValue {
    this.at(n);
    switch (n.type) {
      case "bool":
        return n.value;
      case "number":
        return this.idealConstant(n);
      case "string":
        return n.text;
      default:
        this.errorf(`can't handle assignment of ${nodeString(n)} to empty interface argument`);
    }
  }
}

/** Runs a parsed template against `dot` with the given functions; returns the output. */
export function execute(tmpl: ParsedTemplate, funcs: FuncMap, dot: GoValue): string {
  const root = tmpl.trees.get(ROOT_NAME) as ListNode;
  const s = new State(tmpl, funcs, dot);
  s.walk({ v: dot, boxed: false }, root);
  return s.result();
}
