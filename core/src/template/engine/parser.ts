/**
 * A port of Go's text/template/parse parser (Go 1.19). Function names are checked at parse time, like Go's, so an
 * unknown function is `function "x" not defined` before anything runs. `define`/`block` add named trees to the
 * returned set; `template` refers to them.
 */

import type {
  BranchNode, CommandNode, ElseNode, EndNode, ListNode, Node, NumberNode, Operand, PipeNode, TemplateNode,
  VariableNode,
} from "./ast.js";
import { isEmptyTree, nodeString } from "./ast.js";
import { TemplateEngineError } from "./errors.js";
import { type Item, ItemType, Lexer, itemString } from "./lexer.js";
import { StrconvSyntaxError, parseFloat64, parseInt64, parseUint, quote, unquote, unquoteCharConstant } from "./strconv.js";
import { GoComplex } from "./values.js";

/** The name Packer gives every template it parses (`template.New("root")`). */
export const ROOT_NAME = "root";

/** A parsed template text: the root tree plus any `define`d / `block` trees, by name. */
export interface ParsedTemplate {
  readonly text: string;
  readonly trees: ReadonlyMap<string, ListNode>;
  /** Maps a UTF-16 offset to its 1-based line. */
  readonly lineAt: (pos: number) => number;
}

class Tree {
  root: ListNode | null = null;
  private readonly token: Item[] = [];
  private peekCount = 0;
  private vars: string[] = ["$"];
  private actionLine = 0;
  private rangeDepth = 0;

  constructor(
    public name: string,
    private readonly lex: Lexer,
    private readonly funcs: ReadonlySet<string>,
    private readonly treeSet: Map<string, ListNode>,
  ) {}

  // --- token plumbing (Go keeps a 3-token look-ahead; token[0] is the most recently lexed) ---------------------

  private next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else this.token[0] = this.lex.nextItem();
    return this.token[this.peekCount] as Item;
  }
  private backup(): void {
    this.peekCount++;
  }
  private backup2(t1: Item): void {
    this.token[1] = t1;
    this.peekCount = 2;
  }
  private backup3(t2: Item, t1: Item): void {
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }
  private peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1] as Item;
    this.peekCount = 1;
    this.token[0] = this.lex.nextItem();
    return this.token[0];
  }
  private nextNonSpace(): Item {
    let t: Item;
    do t = this.next();
    while (t.typ === ItemType.Space);
    return t;
  }
  private peekNonSpace(): Item {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  // --- errors ------------------------------------------------------------------------------------------------

  errorf(message: string): never {
    const line = this.token[0]?.line ?? 1;
    throw new TemplateEngineError(`template: ${ROOT_NAME}:${line}: ${message}`, "parse");
  }

  private expect(expected: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== expected) this.unexpected(token, context);
    return token;
  }

  private expectOneOf(a: ItemType, b: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== a && token.typ !== b) this.unexpected(token, context);
    return token;
  }

  private unexpected(token: Item, context: string): never {
    if (token.typ === ItemType.Error) {
      let extra = "";
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at ${ROOT_NAME}:${this.actionLine}`;
        if (token.val.endsWith(" action")) extra = extra.slice(" in action".length);
      }
      this.errorf(`${itemString(token)}${extra}`);
    }
    this.errorf(`unexpected ${itemString(token)} in ${context}`);
  }

  // --- grammar -----------------------------------------------------------------------------------------------

  /** Top level: text, actions and definitions until EOF. */
  parse(): void {
    this.root = { type: "list", pos: this.peek().pos, nodes: [] };
    while (this.peek().typ !== ItemType.EOF) {
      if (this.peek().typ === ItemType.LeftDelim) {
        const delim = this.next();
        if (this.nextNonSpace().typ === ItemType.Define) {
          const sub = new Tree("definition", this.lex, this.funcs, this.treeSet);
          sub.parseDefinition();
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.type === "end" || n.type === "else") this.errorf(`unexpected ${nodeString(n)}`);
      this.root.nodes.push(n);
    }
  }

  /** Adds this tree to the set; redefining a non-empty template is an error, as in Go. */
  add(): void {
    const existing = this.treeSet.get(this.name);
    const root = this.root as ListNode;
    if (existing === undefined || isEmptyTree(existing)) {
      this.treeSet.set(this.name, root);
      return;
    }
    if (!isEmptyTree(root)) this.errorf(`template: multiple definition of template ${quote(this.name)}`);
  }

  private parseDefinition(): void {
    const context = "define clause";
    const name = this.expectOneOf(ItemType.String, ItemType.RawString, context);
    this.name = this.unquoteOrFail(name.val);
    this.expect(ItemType.RightDelim, context);
    const [list, end] = this.itemList();
    if (end.type !== "end") this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.root = list;
    this.add();
  }

  private itemList(): [ListNode, EndNode | ElseNode] {
    const list: ListNode = { type: "list", pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().typ !== ItemType.EOF) {
      const n = this.textOrAction();
      if (n.type === "end" || n.type === "else") return [list, n];
      list.nodes.push(n);
    }
    this.errorf("unexpected EOF");
  }

  private textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Text:
        return { type: "text", pos: token.pos, text: token.val };
      case ItemType.LeftDelim: {
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      case ItemType.Comment:
        return { type: "comment", pos: token.pos, text: token.val };
      default:
        this.unexpected(token, "input");
    }
  }

  private action(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Block:
        return this.blockControl();
      case ItemType.Break:
        return this.breakControl(token.pos);
      case ItemType.Continue:
        return this.continueControl(token.pos);
      case ItemType.Else:
        return this.elseControl();
      case ItemType.End:
        return { type: "end", pos: this.expect(ItemType.RightDelim, "end").pos };
      case ItemType.If:
        return this.branch("if", true);
      case ItemType.Range:
        return this.branch("range", false);
      case ItemType.Template:
        return this.templateControl();
      case ItemType.With:
        return this.branch("with", false);
      default:
        break;
    }
    this.backup();
    const first = this.peek();
    // Variables declared here persist until the enclosing {{end}}.
    return { type: "action", pos: first.pos, pipe: this.pipeline("command", ItemType.RightDelim) };
  }

  private breakControl(pos: number): Node {
    const token = this.nextNonSpace();
    if (token.typ !== ItemType.RightDelim) this.unexpected(token, "{{break}}");
    if (this.rangeDepth === 0) this.errorf("{{break}} outside {{range}}");
    return { type: "break", pos };
  }

  private continueControl(pos: number): Node {
    const token = this.nextNonSpace();
    if (token.typ !== ItemType.RightDelim) this.unexpected(token, "{{continue}}");
    if (this.rangeDepth === 0) this.errorf("{{continue}} outside {{range}}");
    return { type: "continue", pos };
  }

  private elseControl(): ElseNode {
    const peek = this.peekNonSpace();
    // "{{else if ...": leave the "if" pending; parseControl turns it into a nested if.
    if (peek.typ === ItemType.If) return { type: "else", pos: peek.pos };
    const token = this.expect(ItemType.RightDelim, "else");
    return { type: "else", pos: token.pos };
  }

  private branch(kind: "if" | "range" | "with", allowElseIf: boolean): BranchNode {
    const varsMark = this.vars.length;
    try {
      const pipe = this.pipeline(kind, ItemType.RightDelim);
      if (kind === "range") this.rangeDepth++;
      const [list, afterList] = this.itemList();
      if (kind === "range") this.rangeDepth--;
      let elseList: ListNode | null = null;
      if (afterList.type === "else") {
        if (allowElseIf && this.peek().typ === ItemType.If) {
          // {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}: one {{end}} closes both.
          this.next();
          elseList = { type: "list", pos: afterList.pos, nodes: [this.branch("if", true)] };
        } else {
          const [rest, next] = this.itemList();
          if (next.type !== "end") this.errorf(`expected end; found ${nodeString(next)}`);
          elseList = rest;
        }
      }
      return { type: kind, pos: pipe.pos, pipe, list, elseList };
    } finally {
      this.vars.length = varsMark;
    }
  }

  private templateControl(): TemplateNode {
    const context = "template clause";
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== ItemType.RightDelim) {
      this.backup();
      pipe = this.pipeline(context, ItemType.RightDelim);
    }
    return { type: "template", pos: token.pos, name, pipe };
  }

  private blockControl(): TemplateNode {
    const context = "block clause";
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    const pipe = this.pipeline(context, ItemType.RightDelim);
    const block = new Tree(name, this.lex, this.funcs, this.treeSet);
    const [list, end] = block.itemList();
    if (end.type !== "end") this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    block.root = list;
    block.add();
    return { type: "template", pos: token.pos, name, pipe };
  }

  private parseTemplateName(token: Item, context: string): string {
    if (token.typ === ItemType.String || token.typ === ItemType.RawString) return this.unquoteOrFail(token.val);
    this.unexpected(token, context);
  }

  private unquoteOrFail(lit: string): string {
    try {
      return unquote(lit);
    } catch (e) {
      if (e instanceof StrconvSyntaxError) this.errorf(e.message);
      throw e;
    }
  }

  pipeline(context: string, end: ItemType): PipeNode {
    const pipe: PipeNode = { type: "pipe", pos: this.peekNonSpace().pos, isAssign: false, decl: [], cmds: [] };
    let isAssign = false;
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ !== ItemType.Variable) break;
      this.next();
      // Space is a token, so "$x foo" needs a 3-token look-ahead to tell an argument from a declaration.
      const tokenAfterVariable = this.peek();
      const next = this.peekNonSpace();
      if (next.typ === ItemType.Assign || next.typ === ItemType.Declare) {
        isAssign = next.typ === ItemType.Assign;
        this.nextNonSpace();
        pipe.decl.push({ type: "variable", pos: v.pos, ident: v.val.split(".") });
        this.vars.push(v.val);
      } else if (next.typ === ItemType.Char && next.val === ",") {
        this.nextNonSpace();
        pipe.decl.push({ type: "variable", pos: v.pos, ident: v.val.split(".") });
        this.vars.push(v.val);
        if (context === "range" && pipe.decl.length < 2) {
          const p = this.peekNonSpace().typ;
          if (p === ItemType.Variable || p === ItemType.RightDelim || p === ItemType.RightParen) continue decls;
          this.errorf("range can only initialize variables");
        }
        this.errorf(`too many declarations in ${context}`);
      } else if (tokenAfterVariable.typ === ItemType.Space) {
        this.backup3(v, tokenAfterVariable);
      } else {
        this.backup2(v);
      }
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      switch (token.typ) {
        case end:
          this.checkPipeline(pipe, context);
          return { ...pipe, isAssign };
        case ItemType.Bool:
        case ItemType.CharConstant:
        case ItemType.Complex:
        case ItemType.Dot:
        case ItemType.Field:
        case ItemType.Identifier:
        case ItemType.Number:
        case ItemType.Nil:
        case ItemType.RawString:
        case ItemType.String:
        case ItemType.Variable:
        case ItemType.LeftParen:
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    // Only the first command of a pipeline can start with a non-executable operand.
    pipe.cmds.slice(1).forEach((c, i) => {
      const t = c.args[0]?.type;
      if (t === "bool" || t === "dot" || t === "nil" || t === "number" || t === "string") {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { type: "command", pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand !== null) cmd.args.push(operand);
      const token = this.next();
      if (token.typ === ItemType.Space) continue;
      if (token.typ === ItemType.RightDelim || token.typ === ItemType.RightParen) this.backup();
      else if (token.typ !== ItemType.Pipe) this.unexpected(token, "operand");
      break;
    }
    if (cmd.args.length === 0) this.errorf("empty command");
    return cmd;
  }

  private operand(): Operand | null {
    const node = this.term();
    if (node === null) return null;
    if (this.peek().typ !== ItemType.Field) return node;
    const chainPos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().typ === ItemType.Field) fields.push(this.next().val.slice(1));
    // Go folds fields onto a field or variable term, keeping the chain's position (that of the first added field).
    switch (node.type) {
      case "field":
        return { type: "field", pos: chainPos, ident: [...node.ident, ...fields] };
      case "variable":
        return { type: "variable", pos: chainPos, ident: [...node.ident, ...fields] };
      case "bool":
      case "string":
      case "number":
      case "nil":
      case "dot":
        this.errorf(`unexpected . after term ${quote(nodeString(node))}`);
      default:
        return { type: "chain", pos: chainPos, node, field: fields };
    }
  }

  private term(): Operand | null {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Identifier:
        if (!this.funcs.has(token.val)) this.errorf(`function ${quote(token.val)} not defined`);
        return { type: "identifier", pos: token.pos, ident: token.val };
      case ItemType.Dot:
        return { type: "dot", pos: token.pos };
      case ItemType.Nil:
        return { type: "nil", pos: token.pos };
      case ItemType.Variable:
        return this.useVar(token.pos, token.val);
      case ItemType.Field:
        return { type: "field", pos: token.pos, ident: token.val.slice(1).split(".") };
      case ItemType.Bool:
        return { type: "bool", pos: token.pos, value: token.val === "true" };
      case ItemType.CharConstant:
      case ItemType.Complex:
      case ItemType.Number:
        return this.newNumber(token);
      case ItemType.LeftParen:
        return this.pipeline("parenthesized pipeline", ItemType.RightParen);
      case ItemType.String:
      case ItemType.RawString:
        return { type: "string", pos: token.pos, quoted: token.val, text: this.unquoteOrFail(token.val) };
      default:
        this.backup();
        return null;
    }
  }

  private useVar(pos: number, name: string): VariableNode {
    const ident = name.split(".");
    if (!this.vars.includes(ident[0] ?? "")) this.errorf(`undefined variable ${quote(ident[0] ?? "")}`);
    return { type: "variable", pos, ident };
  }

  private newNumber(token: Item): NumberNode {
    const text = token.val;
    const n = {
      type: "number" as const, pos: token.pos, text,
      isInt: false, isUint: false, isFloat: false, isComplex: false,
      int64: 0n, uint64: 0n, float64: 0, complex: null as GoComplex | null,
    };
    const simplifyComplex = (c: GoComplex): NumberNode => {
      n.isComplex = true;
      n.complex = c;
      n.isFloat = c.im === 0;
      if (n.isFloat) {
        n.float64 = c.re;
        n.isInt = Number.isInteger(c.re) && Math.abs(c.re) < 2 ** 63;
        if (n.isInt) n.int64 = BigInt(c.re);
        n.isUint = Number.isInteger(c.re) && c.re >= 0 && c.re < 2 ** 64;
        if (n.isUint) n.uint64 = BigInt(c.re);
      }
      return n;
    };
    if (token.typ === ItemType.CharConstant) {
      let r: number;
      try {
        r = unquoteCharConstant(text);
      } catch (e) {
        if (e instanceof StrconvSyntaxError) this.errorf(e.message);
        throw e;
      }
      return { ...n, isInt: true, isUint: true, isFloat: true, int64: BigInt(r), uint64: BigInt(r), float64: r };
    }
    if (token.typ === ItemType.Complex) {
      const c = parseComplex(text);
      if (c === null) this.errorf(`illegal number syntax: ${quote(text)}`);
      return simplifyComplex(c);
    }
    if (text.endsWith("i")) {
      const f = parseFloat64(text.slice(0, -1));
      if (f !== null) return simplifyComplex(new GoComplex(0, f));
    }
    const u = parseUint(text);
    if (u !== null) {
      n.isUint = true;
      n.uint64 = u;
    }
    const i = parseInt64(text);
    if (i !== null) {
      n.isInt = true;
      n.int64 = i;
      if (i === 0n) {
        n.isUint = true; // "-0"
        n.uint64 = 0n;
      }
    }
    if (n.isInt) {
      n.isFloat = true;
      n.float64 = Number(n.int64);
    } else if (n.isUint) {
      n.isFloat = true;
      n.float64 = Number(n.uint64);
    } else {
      const f = parseFloat64(text);
      if (f !== null) {
        // Parsed as a float but looks like an integer: a huge integer. Go rejects it.
        if (!/[.eEpP]/.test(text)) this.errorf(`integer overflow: ${quote(text)}`);
        n.isFloat = true;
        n.float64 = f;
        if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
          n.isInt = true;
          n.int64 = BigInt(f);
        }
        if (Number.isInteger(f) && f >= 0 && f < 2 ** 64) {
          n.isUint = true;
          n.uint64 = BigInt(f);
        }
      }
    }
    if (!n.isInt && !n.isUint && !n.isFloat) this.errorf(`illegal number syntax: ${quote(text)}`);
    return n;
  }
}

/** "1+2i" as fmt.Sscan reads a complex128. */
function parseComplex(text: string): GoComplex | null {
  const body = text.endsWith("i") ? text.slice(0, -1) : null;
  if (body === null) return null;
  for (let k = body.length - 1; k > 0; k--) {
    const c = body[k];
    const prev = body[k - 1] ?? "";
    if ((c === "+" || c === "-") && !/[eEpP]/.test(prev)) {
      const re = parseFloat64(body.slice(0, k));
      const im = parseFloat64(body.slice(k));
      if (re === null || im === null) return null;
      return new GoComplex(re, im);
    }
  }
  return null;
}

/**
 * Parses a template text. `funcs` is the set of function names in scope (Go checks them at parse time).
 * Throws {@link TemplateEngineError} with Go's message on a syntax error.
 */
export function parseTemplate(text: string, funcs: ReadonlySet<string>): ParsedTemplate {
  const lex = new Lexer(text);
  const trees = new Map<string, ListNode>();
  const t = new Tree(ROOT_NAME, lex, funcs, trees);
  t.parse();
  t.add();
  return { text, trees, lineAt: (pos) => lex.lineAt(pos) };
}

export type { Node, Operand, PipeNode, CommandNode, ListNode };
