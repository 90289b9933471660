/**
 * Fluent Bit compiles every regex it reads from configuration (parsers, tail's Tag_Regex, the grep and
 * modify filters) with Onigmo in Ruby syntax: `flb_regex.c` strips a `/.../opts` wrapper, then calls
 * `onig_new(..., ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY)`. This turns such a pattern into a JavaScript
 * RegExp (`u` mode, so it matches code points as Onigmo does on UTF-8) that matches the same text, and
 * refuses what JavaScript cannot express, so a pattern never silently matches something else.
 *
 * Translated (Onigmo doc/RE):
 * - `/PATTERN/imx` as `check_option` reads it (`m` is Ruby's dot-all; an unknown letter means no options),
 *   and a leading `(?imx)`. Inline options anywhere else (`a(?i)b`, `(?i:...)`) are refused: Node 20 lacks them.
 * - `^` and `$` are line anchors in Ruby (the `m` flag); `.` is anything but `\n` (`[^\n]`).
 * - `\A`, `\z`, `\Z`, `\h`, `\H`, `\R`, `\e`, `\a`, `\x{...}`, `\p{^...}`, octal `\0nn`, and an unknown
 *   escape such as `\-` or `\:`, which Ruby reads as the character itself.
 * - `(?>...)` atomic groups, possessive `*+ ++ ?+` and `\R` become `(?=(?<aN>...))\k<aN>`: a lookahead is
 *   never backtracked into, which is exactly atomic. `{n,m}+` and `{n}?` are not possessive or lazy in
 *   Ruby syntax but a second repeat (`(?:a{n})?`), and so is any repeat of a repeat (`a{2}{3}`).
 * - Named groups `(?<name>...)` and `(?'name'...)` are renamed `g0, g1, ...` (`names` maps them back), so
 *   repeated names work. Beside named groups a plain `(...)` does not capture and `\1` is an error, as
 *   in Onigmo; without them plain groups are named `c1, c2, ...` so `\1` still finds its group when an
 *   atomic helper group comes before it.
 * - POSIX brackets match Unicode, as in Onigmo's Ruby syntax (`ONIG_OPTION_POSIX_BRACKET_ALL_RANGE`).
 * - `{,n}`, `(?#comments)`, extended mode, and a `{`, `}` or `]` that is a literal.
 *
 * Refused: `\G`, `\K`, `\X`, `\g<...>` calls, `\C-x`, `\M-x`, nested classes and `&&`, a negated POSIX
 * bracket or property inside a class, `(?~...)`, conditionals, and a back-reference to a repeated name.
 * Known differences: `\s` also matches Unicode spaces and `\b` uses ASCII words (Onigmo: the reverse);
 * `\xHH` and octal escapes above 0x7f are code points here, bytes in Onigmo.
 */

export class RegexTranslationError extends Error {
  override readonly name = 'RegexTranslationError';
}

export interface TranslatedRegex {
  regex: RegExp;
  /** For each JS group name `gN`, the Onigmo name, in the order the groups appear. */
  names: ReadonlyArray<{ group: string; name: string }>;
}

interface Options {
  dotAll: boolean;
  ignoreCase: boolean;
  extended: boolean;
}

/** `check_option` and `str_to_regex` in `flb_regex.c`: the `/…/opts` wrapper, if any. */
function unwrap(pattern: string): { body: string; options: Options } {
  const options: Options = { dotAll: false, ignoreCase: false, extended: false };
  const last = pattern.lastIndexOf('/');
  if (pattern.startsWith('/') && last > 0) {
    const found: Options = { dotAll: false, ignoreCase: false, extended: false };
    let any = false;
    let valid = true;
    for (const c of pattern.slice(last + 1)) {
      if (c === 'm') found.dotAll = any = true;
      else if (c === 'i') found.ignoreCase = any = true;
      else if (c === 'x') found.extended = any = true;
      else if (c !== 'o') {
        // Fluent Bit: an unknown letter means the pattern has no options at all (`/var/log/.*`).
        valid = false;
        break;
      }
    }
    if (valid && any) return { body: pattern.slice(1, last), options: found };
  }
  if (pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/')) return { body: pattern.slice(1, -1), options };
  return { body: pattern, options };
}

/** POSIX brackets and Onigmo's same-named properties, with Unicode ranges (doc/RE, "Unicode Case"). */
const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: '\\p{L}\\p{M}\\p{Nd}',
  alpha: '\\p{L}\\p{M}',
  ascii: '\\x00-\\x7f',
  blank: '\\p{Zs}\\t',
  cntrl: '\\p{Cc}\\p{Cf}\\p{Cn}\\p{Co}\\p{Cs}',
  digit: '\\p{Nd}',
  graph: '\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Cf}\\p{Co}',
  lower: '\\p{Ll}',
  print: '\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Cf}\\p{Co}\\p{Zs}',
  punct: '\\p{P}$+<=>^`|~',
  space: '\\p{Zs}\\p{Zl}\\p{Zp}\\t\\n\\v\\f\\r\\x85',
  upper: '\\p{Lu}',
  word: '\\p{L}\\p{M}\\p{Nd}\\p{Pc}',
  xdigit: '0-9a-fA-F',
};

/** Characters that keep their backslash in JavaScript (its `u` mode accepts no other identity escapes). */
const SYNTAX_CHARS = new Set([...'^$\\.*+?()[]{}|/']);
/** Escapes that mean the same in both engines, outside and inside a class. */
const SHARED_ESCAPES = new Set([...'dDwWsSbBntrfv']);
const REPLACED_ESCAPES: Readonly<Record<string, string>> = {
  A: '(?<![\\s\\S])',
  z: '(?![\\s\\S])',
  Z: '(?=\\n?(?![\\s\\S]))',
  h: '[0-9a-fA-F]',
  H: '[^0-9a-fA-F]',
  e: '\\x1b',
  a: '\\x07',
};
const REFUSED_ESCAPES: Readonly<Record<string, string>> = {
  G: 'the escape \\G (where the search started)',
  K: 'the escape \\K (keep)',
  X: 'the escape \\X (extended grapheme cluster)',
  g: 'the escape \\g (subexpression call)',
  C: 'the escape \\C- (control character)',
  M: 'the escape \\M- (meta character)',
};
/** `\R` (doc/RE): `(?>\x0D\x0A|[\x0A-\x0D\x{85}\x{2028}\x{2029}])`; the caller makes it atomic. */
const LINEBREAK = '\\r\\n|[\\n\\v\\f\\r\\x85\\u2028\\u2029]';
const GROUP_NAME = /^\(\?(?:<((?!\p{Nd})[\p{L}\p{M}\p{N}\p{Pc}]+)>|'((?!\p{Nd})[\p{L}\p{M}\p{N}\p{Pc}]+)')/u;

/** What the last token allows a following `?` or `+` to be (Onigmo's greedy_check/possessive_check). */
interface Repeat {
  lazyAllowed: boolean;
  possessiveAllowed: boolean;
}

type OpenGroup = { start: number; atomic: string | null };

class Translator {
  private out = '';
  private i = 0;
  /** Where the atom the next quantifier applies to starts in `out`, or -1 when there is none. */
  private atomStart = -1;
  /** The atom is more than one JavaScript token (an atomic group's lookahead and back-reference). */
  private atomCompound = false;
  /** Set when the last token was a quantifier. */
  private repeat: Repeat | null = null;
  private readonly stack: OpenGroup[] = [];
  private plainGroups = 0;
  private helpers = 0;
  readonly names: Array<{ group: string; name: string }> = [];

  constructor(
    private readonly body: string,
    readonly options: Options,
    /** Onigmo's ONIG_SYN_CAPTURE_ONLY_NAMED_GROUP applies: the pattern has named groups. */
    private readonly namedOnly: boolean,
  ) {}

  run(): string {
    const { body } = this;
    this.leadingOptions();
    while (this.i < body.length) {
      // By code point, so a quantifier never splits a surrogate pair.
      const c = String.fromCodePoint(body.codePointAt(this.i) as number);
      if (this.options.extended && /\s/.test(c)) this.i++;
      else if (this.options.extended && c === '#') {
        const newline = body.indexOf('\n', this.i);
        this.i = newline < 0 ? body.length : newline + 1;
      } else if (c === '\\') this.escape();
      else if (c === '[') this.atom(this.charClass(), 0);
      else if (c === '(') this.openGroup();
      else if (c === ')') this.closeGroup();
      else if (c === '|') this.emitBetween('|', 1);
      else if (c === '*' || c === '+' || c === '?') this.quantifier(c, 1, { lazyAllowed: true, possessiveAllowed: true });
      else if (c === '{') this.brace();
      else if (c === '.') this.atom(this.options.dotAll ? '[\\s\\S]' : '[^\\n]', 1);
      else if (c === ']' || c === '}' || c === '/') this.atom(`\\${c}`, 1);
      else this.atom(c, c.length);
    }
    if (this.stack.length > 0) throw this.invalid('an unclosed (');
    return this.out;
  }

  private unsupported(what: string): RegexTranslationError {
    return new RegexTranslationError(`${what} (at offset ${this.i} of /${this.body}/) is not supported by wsbit's regex engine`);
  }

  private invalid(what: string): RegexTranslationError {
    return new RegexTranslationError(`${what} (at offset ${this.i} of /${this.body}/)`);
  }

  /** Appends an atom a quantifier may follow. */
  private atom(text: string, consumed: number, compound = false): void {
    this.atomStart = this.out.length;
    this.atomCompound = compound;
    this.repeat = null;
    this.out += text;
    this.i += consumed;
  }

  /** Appends what no quantifier may follow (`|`, a group opening). */
  private emitBetween(text: string, consumed: number): void {
    this.atomStart = -1;
    this.repeat = null;
    this.out += text;
    this.i += consumed;
  }

  /** `(?=(?<aN>TEXT))\k<aN>`: TEXT matched once and never backtracked into. */
  private atomic(text: string): string {
    const name = `a${this.helpers++}`;
    return `(?=(?<${name}>${text}))\\k<${name}>`;
  }

  /** `(?i)`, `(?m)`, `(?x)` (or a mix) at the very start become flags. */
  private leadingOptions(): void {
    const match = /^\(\?([imx]+)\)/.exec(this.body);
    if (match === null) return;
    for (const c of match[1] ?? '') {
      if (c === 'i') this.options.ignoreCase = true;
      else if (c === 'm') this.options.dotAll = true;
      else this.options.extended = true;
    }
    this.i = match[0].length;
  }

  private quantifier(text: string, consumed: number, allows: Repeat): void {
    const previous = this.repeat;
    if (this.atomStart < 0) throw this.invalid(`a quantifier '${text}' with nothing to repeat`);
    const atom = this.out.slice(this.atomStart);
    const before = this.out.slice(0, this.atomStart);
    this.i += consumed;
    if (previous !== null && text === '?' && previous.lazyAllowed) {
      this.out += '?';
      this.repeat = { lazyAllowed: false, possessiveAllowed: false };
    } else if (previous !== null && text === '+' && previous.possessiveAllowed) {
      this.out = before + this.atomic(atom);
      this.repeat = { lazyAllowed: false, possessiveAllowed: false };
    } else if (previous !== null || this.atomCompound) {
      // A repeat of a repeat (`a{2}{3}`, `a{2}?`, `a{1,2}+`) or of an atomic group: JavaScript needs a group.
      this.out = `${before}(?:${atom})${text}`;
      this.repeat = allows;
    } else {
      this.out += text;
      this.repeat = allows;
    }
  }

  /** A `{n}`, `{n,}`, `{n,m}` or Ruby's `{,m}` quantifier, or else a literal `{`. */
  private brace(): void {
    const match = /^\{(\d*)(,?)(\d*)\}/.exec(this.body.slice(this.i));
    if (match === null || (match[1] === '' && match[3] === '')) return this.atom('\\{', 1);
    const [text, low, comma, high] = match as unknown as [string, string, string, string];
    const fixed = comma === '';
    if (fixed && low === '') return this.atom('\\{', 1);
    // ONIG_SYN_FIXED_INTERVAL_IS_GREEDY_ONLY: `a{n}?` is `(?:a{n})?`; and `{n,m}+` is never possessive.
    this.quantifier(`{${low === '' ? '0' : low}${comma}${high}}`, text.length, { lazyAllowed: !fixed, possessiveAllowed: false });
  }

  private openGroup(): void {
    const { body } = this;
    const start = this.out.length;
    if (body[this.i + 1] !== '?') {
      this.stack.push({ start, atomic: null });
      if (this.namedOnly) return this.emitBetween('(?:', 1);
      return this.emitBetween(`(?<c${++this.plainGroups}>`, 1);
    }
    if (body.startsWith('(?#', this.i)) {
      const close = body.indexOf(')', this.i);
      if (close < 0) throw this.invalid('an unterminated comment group');
      this.i = close + 1;
      return;
    }
    const named = GROUP_NAME.exec(body.slice(this.i));
    if (named !== null) {
      const group = `g${this.names.length}`;
      this.names.push({ group, name: (named[1] ?? named[2]) as string });
      this.stack.push({ start, atomic: null });
      return this.emitBetween(`(?<${group}>`, named[0].length);
    }
    if (body.startsWith('(?>', this.i)) {
      const name = `a${this.helpers++}`;
      this.stack.push({ start, atomic: name });
      return this.emitBetween(`(?=(?<${name}>`, 3);
    }
    const plain = /^\(\?(?::|=|!|<=|<!)/.exec(body.slice(this.i));
    if (plain !== null) {
      this.stack.push({ start, atomic: null });
      return this.emitBetween(plain[0], plain[0].length);
    }
    if (/^\(\?(?:<|')/.test(body.slice(this.i))) throw this.invalid(`an invalid group name in '${body.slice(this.i, this.i + 12)}'`);
    throw this.unsupported(`the group syntax '${body.slice(this.i, this.i + 4)}…' (inline options are supported only at the start, as (?i))`);
  }

  private closeGroup(): void {
    const open = this.stack.pop();
    if (open === undefined) throw this.invalid('an unmatched )');
    this.out += open.atomic === null ? ')' : `))\\k<${open.atomic}>`;
    this.i++;
    // A quantifier after `)` repeats the whole group.
    this.atomStart = open.start;
    this.atomCompound = open.atomic !== null;
    this.repeat = null;
  }

  private escape(): void {
    const { body } = this;
    if (this.i + 1 >= body.length) throw this.invalid('a trailing backslash');
    const next = String.fromCodePoint(body.codePointAt(this.i + 1) as number);
    const replacement = REPLACED_ESCAPES[next];
    if (replacement !== undefined) return this.atom(replacement, 2);
    const refused = REFUSED_ESCAPES[next];
    if (refused !== undefined) throw this.unsupported(refused);
    if (next === 'R') return this.atom(this.atomic(LINEBREAK), 2, true);
    if (next === 'k') return this.namedBackref();
    if (next === 'p' || next === 'P') {
      const property = this.property(this.i);
      if (property === null) return this.atom(next, 2);
      return this.atom(property.negated ? `[^${property.set}]` : `[${property.set}]`, property.length);
    }
    if (/[1-9]/.test(next)) return this.numberedBackref();
    const code = this.codeEscape(this.i);
    if (code !== null) return this.atom(code.text, code.length);
    if (SHARED_ESCAPES.has(next) || SYNTAX_CHARS.has(next)) return this.atom(`\\${next}`, 2);
    // Ruby reads an unknown escape as the character itself.
    this.atom(next, 1 + next.length);
  }

  /**
   * `\0nn`, `\xHH`, `\x{H...}`, `\uHHHH` and `\cX` at `at`, as JavaScript text, or null for another escape.
   * Onigmo's octal and `\xHH` escapes are byte values; above 0x7f wsbit reads them as code points.
   */
  private codeEscape(at: number): { text: string; length: number } | null {
    const rest = this.body.slice(at);
    const octal = /^\\(0[0-7]{0,2}|[1-7][0-7]{0,2})/.exec(rest);
    if (octal !== null) return { text: `\\u{${Number.parseInt(octal[1] as string, 8).toString(16)}}`, length: octal[0].length };
    const wide = /^\\x\{([0-9a-fA-F]{1,8})\}/.exec(rest);
    if (wide !== null) return { text: `\\u{${wide[1] as string}}`, length: wide[0].length };
    const hex = /^\\x([0-9a-fA-F]{1,2})/.exec(rest);
    if (hex !== null) return { text: `\\u{${hex[1] as string}}`, length: hex[0].length };
    const unicode = /^\\u[0-9a-fA-F]{4}|^\\c[A-Za-z]/.exec(rest);
    if (unicode !== null) return { text: unicode[0], length: unicode[0].length };
    return null;
  }

  /**
   * `\p{Name}`, `\p{^Name}` or `\P{Name}` at `at`, or null for a bare `\p`: either a POSIX-named set
   * (class contents) or one JavaScript property.
   */
  private property(at: number): { set: string; js: string | null; negated: boolean; length: number } | null {
    const match = /^\\([pP])\{(\^?)([^}]*)\}/.exec(this.body.slice(at));
    if (match === null) return null;
    const [whole, letter, caret, name] = match as unknown as [string, string, string, string];
    const negated = (letter === 'P') !== (caret === '^');
    const posix = POSIX_CLASSES[name.toLowerCase()];
    if (posix !== undefined) return { set: posix, js: null, negated, length: whole.length };
    // Onigmo knows scripts by their bare name (`\p{Greek}`); JavaScript wants `Script=Greek`.
    for (const candidate of [name, `Script=${name}`]) {
      try {
        new RegExp(`\\p{${candidate}}`, 'u');
        return { set: `\\p{${candidate}}`, js: candidate, negated, length: whole.length };
      } catch {
        // Try the next spelling.
      }
    }
    this.i = at;
    throw this.unsupported(`the property \\p{${name}}`);
  }

  private namedBackref(): void {
    const match = /^\\k(?:<([^>]*)>|'([^']*)')/.exec(this.body.slice(this.i));
    if (match === null) throw this.invalid('a \\k back-reference without <name>');
    const name = (match[1] ?? match[2]) as string;
    if (/^\d+$/.test(name)) return this.numberedBackref(Number(name), match[0].length);
    if (!/^[\p{L}\p{M}\p{N}\p{Pc}]+$/u.test(name)) throw this.unsupported(`the back-reference \\k<${name}>`);
    const groups = this.names.filter((entry) => entry.name === name);
    if (groups.length === 0) throw this.invalid(`a back-reference to an unknown group <${name}>`);
    // Onigmo tries each group of a repeated name, newest first, until one has matched: no JS spelling.
    if (groups.length > 1) throw this.unsupported(`a back-reference to the repeated group name <${name}>`);
    this.atom(`\\k<${(groups[0] as { group: string }).group}>`, match[0].length);
  }

  /**
   * `\N` (Onigmo: a back-reference when N < 10 or that many groups exist, else octal) or `\k<N>`. Plain
   * groups are named `cN`, so the reference survives the helper groups atomic groups add.
   */
  private numberedBackref(number?: number, length?: number): void {
    let n = number;
    let consumed = length;
    if (n === undefined) {
      const digits = (/^\\(\d+)/.exec(this.body.slice(this.i)) as RegExpExecArray)[1] as string;
      const value = Number(digits);
      if (value >= 10 && value > this.plainGroups) {
        const code = this.codeEscape(this.i);
        if (code !== null) return this.atom(code.text, code.length);
        return this.atom(digits[0] as string, 2); // `\8` and `\9` are the digits themselves
      }
      n = value;
      consumed = digits.length + 1;
    }
    if (this.namedOnly) throw this.invalid('a numbered back-reference next to named groups (Onigmo requires the name)');
    this.atom(`\\k<c${n}>`, consumed as number);
  }

  /** Translates the class at `body[i] === '['` and returns it; leaves `i` at the `[` for `atom`. */
  private charClass(): string {
    const { body } = this;
    const start = this.i;
    let out = '[';
    let p = start + 1;
    if (body[p] === '^') {
      out += '^';
      p++;
    }
    if (body[p] === ']') {
      out += '\\]'; // a `]` first in a class is a literal in Ruby
      p++;
    }
    for (;;) {
      const c = body[p];
      if (c === undefined) {
        this.i = p;
        throw this.invalid('an unterminated character class');
      }
      if (c === ']') break;
      if (c === '\\') {
        const next = body[p + 1];
        if (next === undefined) throw this.invalid('a trailing backslash in a class');
        const property = next === 'p' || next === 'P' ? this.property(p) : null;
        if (property !== null) {
          if (property.negated && property.js === null) {
            this.i = p;
            throw this.unsupported(`the negated property ${body.slice(p, p + property.length)} inside a class`);
          }
          out += property.negated ? `\\P{${property.js as string}}` : property.set;
          p += property.length;
          continue;
        }
        const code = this.codeEscape(p);
        if (code !== null) {
          out += code.text;
          p += code.length;
          continue;
        }
        if (next === 'h') out += '0-9a-fA-F';
        else if (next === 'H') {
          this.i = p;
          throw this.unsupported('the escape \\H inside a class');
        } else if (next === 'e') out += '\\x1b';
        else if (next === 'a') out += '\\x07';
        else if (next === 'B') out += 'B'; // no boundaries in a class: the letter, as other unknown escapes
        else if (SHARED_ESCAPES.has(next) || SYNTAX_CHARS.has(next) || next === '-') out += `\\${next}`;
        else out += next; // unknown escapes (`\:`, and `\A` or `\R`, which mean nothing in a class) are the character
        p += 2;
        continue;
      }
      if (c === '[') {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(body.slice(p));
        const range = posix === null ? undefined : POSIX_CLASSES[posix[2] as string];
        this.i = p;
        if (posix === null || range === undefined) throw this.unsupported('a nested character class');
        if (posix[1] === '^') throw this.unsupported(`the negated POSIX class [:^${posix[2] as string}:]`);
        out += range;
        p += posix[0].length;
        continue;
      }
      if (c === '&' && body[p + 1] === '&') {
        this.i = p;
        throw this.unsupported('a character class intersection (&&)');
      }
      out += c;
      p++;
    }
    this.i = p + 1;
    return `${out}]`;
  }
}

/**
 * Translates an Onigmo (Ruby syntax) pattern as Fluent Bit reads it. Throws `RegexTranslationError` for
 * constructs JavaScript cannot express and for patterns neither engine accepts.
 */
export function translateOnigmo(pattern: string): TranslatedRegex {
  const { body, options } = unwrap(pattern);
  let translator = new Translator(body, { ...options }, false);
  let source = translator.run();
  // Onigmo decides whether plain groups capture once it has seen the whole pattern.
  if (translator.names.length > 0) {
    translator = new Translator(body, { ...options }, true);
    source = translator.run();
  }
  const flags = `mu${translator.options.ignoreCase ? 'i' : ''}`;
  try {
    return { regex: new RegExp(source, flags), names: translator.names };
  } catch (error) {
    throw new RegexTranslationError(`invalid regular expression /${body}/: ${(error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`);
  }
}
