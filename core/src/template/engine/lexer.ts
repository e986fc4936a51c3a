/**
 * A port of Go's text/template/parse lexer (Go 1.19, the toolchain Packer 1.6.6 is built with in Debian). It is a
 * state machine that yields items on demand; once it fails it keeps yielding the same error item, so the parser
 * reports whichever problem it reaches first, as Go's does.
 */

import { formatRuneU, quote } from "./strconv.js";

export const ItemType = {
  Error: "error",
  Bool: "bool",
  Char: "char",
  CharConstant: "charconst",
  Comment: "comment",
  Complex: "complex",
  Assign: "=",
  Declare: ":=",
  EOF: "EOF",
  Field: "field",
  Identifier: "identifier",
  LeftDelim: "{{",
  LeftParen: "(",
  Number: "number",
  Pipe: "|",
  RawString: "rawstring",
  RightDelim: "}}",
  RightParen: ")",
  Space: "space",
  String: "string",
  Text: "text",
  Variable: "variable",
  // Keywords: printed as <word> in error messages.
  Block: "block",
  Break: "break",
  Continue: "continue",
  Dot: ".",
  Define: "define",
  Else: "else",
  End: "end",
  If: "if",
  Nil: "nil",
  Range: "range",
  Template: "template",
  With: "with",
} as const;
export type ItemType = (typeof ItemType)[keyof typeof ItemType];

const KEYWORDS: ReadonlyMap<string, ItemType> = new Map<string, ItemType>([
  [".", ItemType.Dot],
  ["block", ItemType.Block],
  ["break", ItemType.Break],
  ["continue", ItemType.Continue],
  ["define", ItemType.Define],
  ["else", ItemType.Else],
  ["end", ItemType.End],
  ["if", ItemType.If],
  ["range", ItemType.Range],
  ["nil", ItemType.Nil],
  ["template", ItemType.Template],
  ["with", ItemType.With],
]);

const KEYWORD_TYPES: ReadonlySet<ItemType> = new Set(KEYWORDS.values());

export interface Item {
  readonly typ: ItemType;
  /** UTF-16 offset in the template text. */
  readonly pos: number;
  readonly val: string;
  /** 1-based line of the item's start. */
  readonly line: number;
}

/** Go's item.String(), used in "unexpected X in Y". */
export function itemString(i: Item): string {
  if (i.typ === ItemType.EOF) return "EOF";
  if (i.typ === ItemType.Error) return i.val;
  if (KEYWORD_TYPES.has(i.typ)) return `<${i.val}>`;
  const chars = [...i.val];
  if (chars.length > 10) return quote(chars.slice(0, 10).join("")) + "...";
  return quote(i.val);
}

const LEFT_DELIM = "{{";
const RIGHT_DELIM = "}}";
const LEFT_COMMENT = "/*";
const RIGHT_COMMENT = "*/";
const EOF = -1;

const isSpace = (r: number): boolean => r === 0x20 || r === 0x09 || r === 0x0d || r === 0x0a;
const ALNUM = /^[\p{L}\p{Nd}_]$/u;
export const isAlphaNumeric = (r: number): boolean =>
  r === 0x5f || (r >= 0x30 && r <= 0x39) || (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a) ||
  (r > 0x7f && ALNUM.test(String.fromCodePoint(r)));
const PRINTABLE_ASCII = (r: number): boolean => r >= 0x20 && r < 0x7f;

const hasLeftTrimMarker = (s: string, at: number): boolean =>
  s.length - at >= 2 && s[at] === "-" && isSpace(s.charCodeAt(at + 1));
const hasRightTrimMarker = (s: string, at: number): boolean =>
  s.length - at >= 2 && isSpace(s.charCodeAt(at)) && s[at + 1] === "-";

type StateFn = ((l: Lexer) => StateFn) | null;

export class Lexer {
  private pos = 0;
  private start = 0;
  private width = 0;
  private parenDepth = 0;
  private readonly queue: Item[] = [];
  private state: StateFn = lexText;
  private failed: Item | null = null;
  private readonly lineStarts: number[];

  constructor(readonly input: string) {
    // Precomputed so an item's line is a binary search, not a rescan.
    this.lineStarts = [0];
    for (let i = input.indexOf("\n"); i >= 0; i = input.indexOf("\n", i + 1)) this.lineStarts.push(i + 1);
  }

  /** 1-based line number of a UTF-16 offset. */
  lineAt(pos: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  nextItem(): Item {
    while (this.queue.length === 0) {
      if (this.failed !== null) return this.failed;
      if (this.state === null) {
        return { typ: ItemType.EOF, pos: this.input.length, val: "", line: this.lineAt(this.input.length) };
      }
      this.state = this.state(this);
    }
    return this.queue.shift() as Item;
  }

  // --- primitives -------------------------------------------------------------------------------------------

  next(): number {
    if (this.pos >= this.input.length) {
      this.width = 0;
      return EOF;
    }
    const r = this.input.codePointAt(this.pos) ?? 0;
    this.width = r > 0xffff ? 2 : 1;
    this.pos += this.width;
    return r;
  }

  peek(): number {
    const r = this.next();
    this.backup();
    return r;
  }

  backup(): void {
    this.pos -= this.width;
  }

  emit(typ: ItemType): void {
    this.queue.push({ typ, pos: this.start, val: this.input.slice(this.start, this.pos), line: this.lineAt(this.start) });
    this.start = this.pos;
  }

  ignore(): void {
    this.start = this.pos;
  }

  accept(valid: string): boolean {
    const r = this.next();
    if (r !== EOF && valid.includes(String.fromCodePoint(r))) return true;
    this.backup();
    return false;
  }

  acceptRun(valid: string): void {
    for (;;) {
      const r = this.next();
      if (r === EOF || !valid.includes(String.fromCodePoint(r))) break;
    }
    this.backup();
  }

  errorf(message: string): StateFn {
    this.failed = { typ: ItemType.Error, pos: this.start, val: message, line: this.lineAt(this.start) };
    return null;
  }

  /** Go's atRightDelim: is the input at " -}}" (trim) or "}}"? */
  atRightDelim(): { delim: boolean; trimSpaces: boolean } {
    if (hasRightTrimMarker(this.input, this.pos) && this.input.startsWith(RIGHT_DELIM, this.pos + 2)) {
      return { delim: true, trimSpaces: true };
    }
    if (this.input.startsWith(RIGHT_DELIM, this.pos)) return { delim: true, trimSpaces: false };
    return { delim: false, trimSpaces: false };
  }

  atTerminator(): boolean {
    const r = this.peek();
    if (isSpace(r)) return true;
    switch (r) {
      case EOF:
      case 0x2e: // .
      case 0x2c: // ,
      case 0x7c: // |
      case 0x3a: // :
      case 0x29: // )
      case 0x28: // (
        return true;
      default:
        // Go 1.19 accepts the whole right delimiter here, not just its first rune ("{{end}" is a bad character).
        return this.input.startsWith(RIGHT_DELIM, this.pos);
    }
  }

  scanNumber(): boolean {
    this.accept("+-");
    let digits = "0123456789_";
    if (this.accept("0")) {
      if (this.accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (this.accept("oO")) digits = "01234567_";
      else if (this.accept("bB")) digits = "01_";
    }
    this.acceptRun(digits);
    if (this.accept(".")) this.acceptRun(digits);
    if (digits.length === 11 && this.accept("eE")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    if (digits.length === 23 && this.accept("pP")) {
      this.accept("+-");
      this.acceptRun("0123456789_");
    }
    this.accept("i");
    if (isAlphaNumeric(this.peek())) {
      this.next();
      return false;
    }
    return true;
  }

  // State functions reach into these.
  get p(): number {
    return this.pos;
  }
  set p(v: number) {
    this.pos = v;
  }
  get s(): number {
    return this.start;
  }
  get depth(): number {
    return this.parenDepth;
  }
  set depth(v: number) {
    this.parenDepth = v;
  }
}

function rightTrimLength(s: string): number {
  return s.length - s.replace(/[ \t\r\n]+$/, "").length;
}
function leftTrimLength(s: string, at: number): number {
  let i = at;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i - at;
}

function lexText(l: Lexer): StateFn {
  const x = l.input.indexOf(LEFT_DELIM, l.p);
  if (x >= 0) {
    let trimLength = 0;
    if (hasLeftTrimMarker(l.input, x + LEFT_DELIM.length)) trimLength = rightTrimLength(l.input.slice(l.s, x));
    l.p = x - trimLength;
    if (l.p > l.s) l.emit(ItemType.Text);
    l.p = x;
    l.ignore();
    return lexLeftDelim;
  }
  l.p = l.input.length;
  if (l.p > l.s) l.emit(ItemType.Text);
  l.emit(ItemType.EOF);
  return null;
}

function lexLeftDelim(l: Lexer): StateFn {
  l.p += LEFT_DELIM.length;
  const trimSpace = hasLeftTrimMarker(l.input, l.p);
  const afterMarker = trimSpace ? 2 : 0;
  if (l.input.startsWith(LEFT_COMMENT, l.p + afterMarker)) {
    l.p += afterMarker;
    l.ignore();
    return lexComment;
  }
  l.emit(ItemType.LeftDelim);
  l.p += afterMarker;
  l.ignore();
  l.depth = 0;
  return lexInsideAction;
}

function lexComment(l: Lexer): StateFn {
  l.p += LEFT_COMMENT.length;
  const i = l.input.indexOf(RIGHT_COMMENT, l.p);
  if (i < 0) return l.errorf("unclosed comment");
  l.p = i + RIGHT_COMMENT.length;
  const { delim, trimSpaces } = l.atRightDelim();
  if (!delim) return l.errorf("comment ends before closing delimiter");
  l.emit(ItemType.Comment);
  if (trimSpaces) l.p += 2;
  l.p += RIGHT_DELIM.length;
  if (trimSpaces) l.p += leftTrimLength(l.input, l.p);
  l.ignore();
  return lexText;
}

function lexRightDelim(l: Lexer): StateFn {
  const trimSpace = hasRightTrimMarker(l.input, l.p);
  if (trimSpace) {
    l.p += 2;
    l.ignore();
  }
  l.p += RIGHT_DELIM.length;
  l.emit(ItemType.RightDelim);
  if (trimSpace) {
    l.p += leftTrimLength(l.input, l.p);
    l.ignore();
  }
  return lexText;
}

function lexInsideAction(l: Lexer): StateFn {
  const { delim } = l.atRightDelim();
  if (delim) {
    if (l.depth === 0) return lexRightDelim;
    return l.errorf("unclosed left paren");
  }
  const r = l.next();
  if (r === EOF) return l.errorf("unclosed action");
  if (isSpace(r)) {
    l.backup(); // the space may start " -}}"
    return lexSpace;
  }
  switch (r) {
    case 0x3d: // =
      l.emit(ItemType.Assign);
      return lexInsideAction;
    case 0x3a: // :
      if (l.next() !== 0x3d) return l.errorf("expected :=");
      l.emit(ItemType.Declare);
      return lexInsideAction;
    case 0x7c: // |
      l.emit(ItemType.Pipe);
      return lexInsideAction;
    case 0x22: // "
      return lexQuote;
    case 0x60: // `
      return lexRawQuote;
    case 0x24: // $
      return lexVariable;
    case 0x27: // '
      return lexChar;
    case 0x2e: {
      // ".field", or "." starting a number like ".5"
      if (l.p < l.input.length) {
        const n = l.input.charCodeAt(l.p);
        if (n < 0x30 || n > 0x39) return lexField;
      }
      l.backup();
      return lexNumber;
    }
    case 0x28: // (
      l.emit(ItemType.LeftParen);
      l.depth++;
      return lexInsideAction;
    case 0x29: // )
      l.emit(ItemType.RightParen);
      l.depth--;
      if (l.depth < 0) return l.errorf(`unexpected right paren ${formatRuneU(r)}`);
      return lexInsideAction;
    default:
      break;
  }
  if (r === 0x2b || r === 0x2d || (r >= 0x30 && r <= 0x39)) {
    l.backup();
    return lexNumber;
  }
  if (isAlphaNumeric(r)) {
    l.backup();
    return lexIdentifier;
  }
  if (PRINTABLE_ASCII(r)) {
    l.emit(ItemType.Char);
    return lexInsideAction;
  }
  return l.errorf(`unrecognized character in action: ${formatRuneU(r)}`);
}

function lexSpace(l: Lexer): StateFn {
  let numSpaces = 0;
  while (isSpace(l.peek())) {
    l.next();
    numSpaces++;
  }
  // A trim-marked closing delimiter: " -}}". Leave the space for lexRightDelim.
  if (hasRightTrimMarker(l.input, l.p - 1) && l.input.startsWith(RIGHT_DELIM, l.p - 1 + 2)) {
    l.p -= 1;
    if (numSpaces === 1) return lexRightDelim;
  }
  l.emit(ItemType.Space);
  return lexInsideAction;
}

function lexIdentifier(l: Lexer): StateFn {
  for (;;) {
    const r = l.next();
    if (isAlphaNumeric(r)) continue;
    l.backup();
    const word = l.input.slice(l.s, l.p);
    if (!l.atTerminator()) return l.errorf(`bad character ${formatRuneU(r)}`);
    const kw = KEYWORDS.get(word);
    if (kw !== undefined) l.emit(kw);
    else if (word[0] === ".") l.emit(ItemType.Field);
    else if (word === "true" || word === "false") l.emit(ItemType.Bool);
    else l.emit(ItemType.Identifier);
    return lexInsideAction;
  }
}

function lexField(l: Lexer): StateFn {
  return lexFieldOrVariable(l, ItemType.Field);
}

function lexVariable(l: Lexer): StateFn {
  if (l.atTerminator()) {
    l.emit(ItemType.Variable); // "$"
    return lexInsideAction;
  }
  return lexFieldOrVariable(l, ItemType.Variable);
}

function lexFieldOrVariable(l: Lexer, typ: ItemType): StateFn {
  if (l.atTerminator()) {
    l.emit(typ === ItemType.Variable ? ItemType.Variable : ItemType.Dot);
    return lexInsideAction;
  }
  let r: number;
  for (;;) {
    r = l.next();
    if (!isAlphaNumeric(r)) {
      l.backup();
      break;
    }
  }
  if (!l.atTerminator()) return l.errorf(`bad character ${formatRuneU(r)}`);
  l.emit(typ);
  return lexInsideAction;
}

function lexChar(l: Lexer): StateFn {
  for (;;) {
    let r = l.next();
    if (r === 0x5c) {
      r = l.next();
      if (r !== EOF && r !== 0x0a) continue;
      return l.errorf("unterminated character constant");
    }
    if (r === EOF || r === 0x0a) return l.errorf("unterminated character constant");
    if (r === 0x27) break;
  }
  l.emit(ItemType.CharConstant);
  return lexInsideAction;
}

function lexNumber(l: Lexer): StateFn {
  if (!l.scanNumber()) return l.errorf(`bad number syntax: ${quote(l.input.slice(l.s, l.p))}`);
  const sign = l.peek();
  if (sign === 0x2b || sign === 0x2d) {
    // Complex: 1+2i. No spaces, must end in 'i'.
    if (!l.scanNumber() || l.input[l.p - 1] !== "i") {
      return l.errorf(`bad number syntax: ${quote(l.input.slice(l.s, l.p))}`);
    }
    l.emit(ItemType.Complex);
  } else {
    l.emit(ItemType.Number);
  }
  return lexInsideAction;
}

function lexQuote(l: Lexer): StateFn {
  for (;;) {
    let r = l.next();
    if (r === 0x5c) {
      r = l.next();
      if (r !== EOF && r !== 0x0a) continue;
      return l.errorf("unterminated quoted string");
    }
    if (r === EOF || r === 0x0a) return l.errorf("unterminated quoted string");
    if (r === 0x22) break;
  }
  l.emit(ItemType.String);
  return lexInsideAction;
}

function lexRawQuote(l: Lexer): StateFn {
  for (;;) {
    const r = l.next();
    if (r === EOF) return l.errorf("unterminated raw quoted string");
    if (r === 0x60) break;
  }
  l.emit(ItemType.RawString);
  return lexInsideAction;
}
