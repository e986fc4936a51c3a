/**
 * Parse tree of a template, mirroring Go's text/template/parse node types. `nodeString` reproduces Go's
 * Node.String(), which is what an execution error quotes in `at <...>`.
 */

import { quote } from "./strconv.js";
import type { GoComplex } from "./values.js";

interface Base {
  /** UTF-16 offset of the node in the template text. */
  readonly pos: number;
}

export interface ListNode extends Base {
  readonly type: "list";
  readonly nodes: Node[];
}
export interface TextNode extends Base {
  readonly type: "text";
  readonly text: string;
}
export interface CommentNode extends Base {
  readonly type: "comment";
  readonly text: string;
}
export interface ActionNode extends Base {
  readonly type: "action";
  readonly pipe: PipeNode;
}
export interface PipeNode extends Base {
  readonly type: "pipe";
  readonly isAssign: boolean;
  readonly decl: VariableNode[];
  readonly cmds: CommandNode[];
}
export interface CommandNode extends Base {
  readonly type: "command";
  readonly args: Operand[];
}
export interface IdentifierNode extends Base {
  readonly type: "identifier";
  readonly ident: string;
}
export interface VariableNode extends Base {
  readonly type: "variable";
  /** `$x.A.B` is ["$x", "A", "B"]. */
  readonly ident: string[];
}
export interface DotNode extends Base {
  readonly type: "dot";
}
export interface NilNode extends Base {
  readonly type: "nil";
}
export interface FieldNode extends Base {
  readonly type: "field";
  /** `.A.B` is ["A", "B"]. */
  readonly ident: string[];
}
export interface ChainNode extends Base {
  readonly type: "chain";
  readonly node: Operand;
  readonly field: string[];
}
export interface BoolNode extends Base {
  readonly type: "bool";
  readonly value: boolean;
}
export interface NumberNode extends Base {
  readonly type: "number";
  readonly text: string;
  readonly isInt: boolean;
  readonly isUint: boolean;
  readonly isFloat: boolean;
  readonly isComplex: boolean;
  readonly int64: bigint;
  readonly uint64: bigint;
  readonly float64: number;
  readonly complex: GoComplex | null;
}
export interface StringNode extends Base {
  readonly type: "string";
  /** The literal as written, quotes included. */
  readonly quoted: string;
  readonly text: string;
}
export interface BranchNode extends Base {
  readonly type: "if" | "range" | "with";
  readonly pipe: PipeNode;
  readonly list: ListNode;
  readonly elseList: ListNode | null;
}
export interface TemplateNode extends Base {
  readonly type: "template";
  readonly name: string;
  readonly pipe: PipeNode | null;
}
export interface BreakNode extends Base {
  readonly type: "break";
}
export interface ContinueNode extends Base {
  readonly type: "continue";
}
/** Only produced while parsing; never part of a finished tree. */
export interface EndNode extends Base {
  readonly type: "end";
}
export interface ElseNode extends Base {
  readonly type: "else";
}

export type Operand =
  | IdentifierNode
  | VariableNode
  | DotNode
  | NilNode
  | FieldNode
  | ChainNode
  | BoolNode
  | NumberNode
  | StringNode
  | PipeNode;

export type Node =
  | ListNode
  | TextNode
  | CommentNode
  | ActionNode
  | CommandNode
  | BranchNode
  | TemplateNode
  | BreakNode
  | ContinueNode
  | EndNode
  | ElseNode
  | Operand;

/** Go's Node.String(). */
export function nodeString(n: Node): string {
  switch (n.type) {
    case "list":
      return n.nodes.map(nodeString).join("");
    case "text":
      return n.text;
    case "comment":
      return `{{${n.text}}}`;
    case "action":
      return `{{${nodeString(n.pipe)}}}`;
    case "pipe": {
      let s = "";
      if (n.decl.length > 0) s += n.decl.map(nodeString).join(", ") + " := ";
      return s + n.cmds.map(nodeString).join(" | ");
    }
    case "command":
      return n.args.map((a) => (a.type === "pipe" ? `(${nodeString(a)})` : nodeString(a))).join(" ");
    case "identifier":
      return n.ident;
    case "variable":
      return n.ident.join(".");
    case "dot":
      return ".";
    case "nil":
      return "nil";
    case "field":
      return n.ident.map((f) => "." + f).join("");
    case "chain": {
      const head = n.node.type === "pipe" ? `(${nodeString(n.node)})` : nodeString(n.node);
      return head + n.field.map((f) => "." + f).join("");
    }
    case "bool":
      return n.value ? "true" : "false";
    case "number":
      return n.text;
    case "string":
      return n.quoted;
    case "if":
    case "range":
    case "with": {
      let s = `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}`;
      if (n.elseList !== null) s += `{{else}}${nodeString(n.elseList)}`;
      return s + "{{end}}";
    }
    case "template":
      return n.pipe === null ? `{{template ${quote(n.name)}}}` : `{{template ${quote(n.name)} ${nodeString(n.pipe)}}}`;
    case "break":
      return "{{break}}";
    case "continue":
      return "{{continue}}";
    case "end":
      return "{{end}}";
    case "else":
      return "{{else}}";
  }
}

/** Go's parse.IsEmptyTree: only whitespace text and comments. */
export function isEmptyTree(n: Node): boolean {
  switch (n.type) {
    case "list":
      return n.nodes.every(isEmptyTree);
    case "text":
      return n.text.trim() === "";
    case "comment":
      return true;
    default:
      return false;
  }
}
