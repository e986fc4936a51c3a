/**
 * Packer's `boot_command` (packer-plugin-sdk `bootcommand`): the text typed into a booting guest, as a typed list of
 * key actions, shared by the qemu builder (QMP `input-send-event`) and the libvirt builder (`virDomainSendKey` with
 * Linux keycodes).
 *
 * ```
 *   ["<esc><wait>", "linux ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks<enter>"]
 *      │ renderBootCommand: each element rendered with {{ .HTTPIP }} {{ .HTTPPort }} {{ .Name }}, joined with ""
 *      ▼
 *   parseBootCommand ─▶ [tap esc] [wait 1000] [tap l] … [tap shift+k] … [tap ret]
 * ```
 *
 * The grammar is Packer's (case-insensitive key names):
 * - `<waitN>` waits N seconds, `<wait5m>`/`<wait100ms>` a Go duration, `<wait>` one second;
 * - special keys `<bs> <del> <enter> <return> <esc> <tab> <f1>`…`<f12>` `<up> <down> <left> <right> <spacebar>
 *   <insert> <home> <end> <pageUp> <pageDown> <menu>` and the modifiers `<leftAlt> <leftCtrl> <leftShift>
 *   <leftSuper> <rightAlt> <rightCtrl> <rightShift> <rightSuper>`;
 * - `<keyOn>` / `<keyOff>` hold and release a special key, `<cOn>` / `<cOff>` a single character;
 * - anything else is typed literally (US keyboard layout: `A` is shift+a, `:` is shift+semicolon), including a `<`
 *   that starts no valid expression.
 */
import { InvalidTemplateError, DurationSyntaxError, parseGoDuration } from "../../../core/src/mod.js";

/** QEMU's QKeyCode names (QMP `send-key` / `input-send-event` with `{type: "qcode"}`), for the keys kiln types. */
export type QCode = string;

/**
 * One thing to do at the keyboard. `tap` presses `keys` in order and releases them in reverse (a chord). A `down` or
 * `up` from a character toggle (`<aOn>`, `<AOff>`) carries the character: drivers that type characters rather than
 * keys (Packer's USB driver for vSphere) need it.
 */
export type BootAction =
  | { readonly type: "tap"; readonly keys: readonly QCode[] }
  | { readonly type: "down"; readonly key: QCode; readonly char?: string }
  | { readonly type: "up"; readonly key: QCode; readonly char?: string }
  | { readonly type: "wait"; readonly ms: number };

/** Packer's special key names (lower-cased) → QEMU qcodes. */
export const SPECIAL_KEYS: Readonly<Record<string, QCode>> = Object.freeze({
  bs: "backspace",
  del: "delete",
  enter: "ret",
  return: "ret",
  esc: "esc",
  tab: "tab",
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i + 1}`, `f${i + 1}`])),
  up: "up",
  down: "down",
  left: "left",
  right: "right",
  spacebar: "spc",
  insert: "insert",
  home: "home",
  end: "end",
  pageup: "pgup",
  pagedown: "pgdn",
  menu: "menu",
  leftalt: "alt",
  leftctrl: "ctrl",
  leftshift: "shift",
  leftsuper: "meta_l",
  rightalt: "alt_r",
  rightctrl: "ctrl_r",
  rightshift: "shift_r",
  rightsuper: "meta_r",
});

const UNSHIFTED: Readonly<Record<string, QCode>> = {
  " ": "spc", "-": "minus", "=": "equal", "[": "bracket_left", "]": "bracket_right", "\\": "backslash",
  ";": "semicolon", "'": "apostrophe", "`": "grave_accent", ",": "comma", ".": "dot", "/": "slash",
  "\n": "ret", "\r": "ret", "\t": "tab",
};
const SHIFTED: Readonly<Record<string, QCode>> = {
  "!": "1", "@": "2", "#": "3", $: "4", "%": "5", "^": "6", "&": "7", "*": "8", "(": "9", ")": "0",
  _: "minus", "+": "equal", "{": "bracket_left", "}": "bracket_right", "|": "backslash", ":": "semicolon",
  '"': "apostrophe", "~": "grave_accent", "<": "comma", ">": "dot", "?": "slash",
};

/**
 * The keys that type `ch` on a US layout: `["a"]`, `["shift", "a"]` for `A`. Undefined for a character no key types
 * (non-ASCII).
 */
export function charKeys(ch: string): readonly QCode[] | undefined {
  if (/^[a-z0-9]$/.test(ch)) return [ch];
  if (/^[A-Z]$/.test(ch)) return ["shift", ch.toLowerCase()];
  const plain = UNSHIFTED[ch];
  if (plain !== undefined) return [plain];
  const shifted = SHIFTED[ch];
  return shifted === undefined ? undefined : ["shift", shifted];
}

/** Linux input keycodes (linux/input-event-codes.h) of the qcodes above, for libvirt's `VIR_KEYCODE_SET_LINUX`. */
export const LINUX_KEYCODES: Readonly<Record<QCode, number>> = Object.freeze({
  esc: 1, "1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11, minus: 12, equal: 13,
  backspace: 14, tab: 15, q: 16, w: 17, e: 18, r: 19, t: 20, y: 21, u: 22, i: 23, o: 24, p: 25, bracket_left: 26,
  bracket_right: 27, ret: 28, ctrl: 29, a: 30, s: 31, d: 32, f: 33, g: 34, h: 35, j: 36, k: 37, l: 38, semicolon: 39,
  apostrophe: 40, grave_accent: 41, shift: 42, backslash: 43, z: 44, x: 45, c: 46, v: 47, b: 48, n: 49, m: 50,
  comma: 51, dot: 52, slash: 53, shift_r: 54, alt: 56, spc: 57, f1: 59, f2: 60, f3: 61, f4: 62, f5: 63, f6: 64,
  f7: 65, f8: 66, f9: 67, f10: 68, f11: 87, f12: 88, ctrl_r: 97, alt_r: 100, home: 102, up: 103, pgup: 104,
  left: 105, right: 106, end: 107, down: 108, pgdn: 109, insert: 110, delete: 111, meta_l: 125, meta_r: 126,
  menu: 127,
});

/** The Linux keycode of a qcode. @throws InvalidTemplateError for a qcode outside the table (a kiln bug). */
export function linuxKeycode(qcode: QCode): number {
  const code = LINUX_KEYCODES[qcode];
  if (code === undefined) throw new InvalidTemplateError([`boot_command: no Linux keycode for key "${qcode}"`]);
  return code;
}

/** The values a boot command is rendered with (Packer's `bootCommandTemplateData`). */
export interface BootCommandData {
  /** `{{ .HTTPIP }}`: the address the guest reaches the agent's HTTP server at ("" without one). */
  readonly HTTPIP: string;
  /** `{{ .HTTPPort }}` ("" without an HTTP server). */
  readonly HTTPPort: string;
  /** `{{ .Name }}`: the VM name. */
  readonly Name: string;
}

/**
 * Renders each element with the boot data (through the job's template engine, `ctx.render`) and joins them, as
 * Packer's `FlatBootCommand` does. @throws InvalidTemplateError naming the element that does not render
 */
export function renderBootCommand(
  command: readonly string[],
  data: BootCommandData,
  render: (text: string, data: Readonly<Record<string, unknown>>) => string,
): string {
  return command
    .map((part, i) => {
      try {
        return render(part, { ...data });
      } catch (err) {
        throw new InvalidTemplateError([`boot_command[${i}]: ${err instanceof Error ? err.message : String(err)}`], { cause: err });
      }
    })
    .join("");
}

const EXPR = /^<(?:(wait)(\d+|(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)?|([a-z0-9]+?)(on|off)?|(.)(on|off))>/i;

/**
 * Parses a rendered boot command into key actions. Never fails on text: what is not an expression is typed
 * literally. @throws InvalidTemplateError for a character no key types (non-ASCII), naming it and its offset
 */
export function parseBootCommand(text: string): BootAction[] {
  const actions: BootAction[] = [];
  let i = 0;
  while (i < text.length) {
    const match = text[i] === "<" ? matchExpression(text.slice(i)) : undefined;
    if (match !== undefined) {
      actions.push(match.action);
      i += match.length;
      continue;
    }
    const ch = String.fromCodePoint(text.codePointAt(i) ?? 0);
    const keys = charKeys(ch);
    if (keys === undefined) {
      throw new InvalidTemplateError([
        `boot_command: the character ${JSON.stringify(ch)} at offset ${i} cannot be typed on a US keyboard: use ASCII or special keys such as <enter>`,
      ]);
    }
    actions.push({ type: "tap", keys });
    i += ch.length;
  }
  return actions;
}

function matchExpression(rest: string): { action: BootAction; length: number } | undefined {
  const m = EXPR.exec(rest);
  if (m === null) return undefined;
  const [whole, wait, amount, special, specialToggle, char, charToggle] = m;
  if (wait !== undefined) {
    // `<wait>` is one second, `<wait10>` ten seconds, `<wait1m30s>` a Go duration.
    let ms = 1000;
    if (amount !== undefined) {
      try {
        ms = /^\d+$/.test(amount) ? Number(amount) * 1000 : parseGoDuration(amount);
      } catch (err) {
        if (err instanceof DurationSyntaxError) return undefined;
        throw err;
      }
    }
    return { action: { type: "wait", ms }, length: whole.length };
  }
  if (special !== undefined) {
    const key = SPECIAL_KEYS[special.toLowerCase()];
    if (key !== undefined) return { action: toggled(key, specialToggle), length: whole.length };
    // `<aOn>`: the character class did not match because `a` + `on` was read as a name; retry as a character.
    const single = /^<(.)(on|off)>$/i.exec(whole);
    if (single?.[1] === undefined) return undefined;
    return charToggleAction(single[1], single[2], whole.length);
  }
  if (char !== undefined) return charToggleAction(char, charToggle, whole.length);
  return undefined;
}

function charToggleAction(ch: string, toggle: string | undefined, length: number): { action: BootAction; length: number } | undefined {
  const keys = charKeys(ch);
  const key = keys?.[keys.length - 1];
  if (key === undefined || toggle === undefined) return undefined;
  const down = toggle.toLowerCase() === "on";
  return { action: { type: down ? "down" : "up", key, char: ch }, length };
}

function toggled(key: QCode, toggle: string | undefined): BootAction {
  if (toggle === undefined) return { type: "tap", keys: [key] };
  return toggle.toLowerCase() === "on" ? { type: "down", key } : { type: "up", key };
}

/** QMP `input-send-event` events for one press or release. */
export function qmpKeyEvents(keys: readonly QCode[], down: boolean): { type: "key"; data: { down: boolean; key: { type: "qcode"; data: QCode } } }[] {
  return keys.map((key) => ({ type: "key", data: { down, key: { type: "qcode", data: key } } }));
}

/** Total wall time the `wait` actions ask for (for progress messages and tests). */
export function totalWaitMs(actions: readonly BootAction[]): number {
  return actions.reduce((sum, a) => sum + (a.type === "wait" ? a.ms : 0), 0);
}
