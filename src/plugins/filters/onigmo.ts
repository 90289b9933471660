/**
 * Fluent Bit compiles filter regexes with Onigmo in Ruby syntax (`flb_regex_create`). This turns such a
 * pattern into a JavaScript RegExp that matches the same text, for the constructs where the two differ
 * only in spelling; constructs JavaScript cannot express (atomic groups, possessive quantifiers, class
 * intersections) are refused with a message rather than silently matching something else.
 *
 * What is translated:
 * - `/PATTERN/` and `/PATTERN/imx` as `flb_regex.c` reads them (`m` is Ruby's dot-matches-newline).
 * - `^` and `$` are line anchors in Ruby, so the RegExp always has the `m` flag; `.` never matches
 *   `\n` (unless `/m`), nothing else, as in Ruby.
 * - `\A`, `\z`, `\Z`, `\h`, `\H`, `\R`, `\e`, `\a`, `(?'name'…)`, `(?#…)`, `{,n}`, POSIX brackets
 *   (`[[:alpha:]]`, ASCII ranges), a leading `(?i)`/`(?m)`/`(?x)`, and extended mode (`/x`).
 * - Escapes Ruby accepts and JavaScript's `u` mode rejects (`\-`, `\"`, `\:`) become the literal, and a
 *   stray `]`, `{` or `}` is escaped.
 */

export class RegexTranslationError extends Error {}

interface Options {
  dotAll: boolean;
  ignoreCase: boolean;
  extended: boolean;
}

/** `check_option` and `str_to_regex` in `flb_regex.c`: the `/…/opts` wrapper, if any. */
function unwrap(pattern: string): { body: string; options: Options } {
  const options: Options = { dotAll: false, ignoreCase: false, extended: false };
  let optionsEnd = -1;
  if (pattern.startsWith('/')) {
    const last = pattern.lastIndexOf('/');
    if (last > 0) {
      const found: Options = { dotAll: false, ignoreCase: false, extended: false };
      let valid = true;
      let any = false;
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
      if (valid && any) {
        Object.assign(options, found);
        optionsEnd = last;
      }
    }
  }
  if (pattern.length >= 2 && pattern.startsWith('/') && pattern.endsWith('/')) return { body: pattern.slice(1, -1), options };
  if (optionsEnd > 0) return { body: pattern.slice(1, optionsEnd), options };
  return { body: pattern, options };
}

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  ascii: '\\x00-\\x7f',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '\\x21-\\x7e',
  lower: 'a-z',
  print: '\\x20-\\x7e',
  punct: '!-\\/:-@\\[-`{-~',
  space: ' \\t\\n\\v\\f\\r',
  upper: 'A-Z',
  word: '\\w',
  xdigit: '0-9a-fA-F',
};

/** Characters that keep their backslash in JavaScript (its `u` mode accepts no other identity escapes). */
const SYNTAX_CHARS = new Set([...'^$\\.*+?()[]{}|/']);
/** Escapes whose meaning is the same in both engines. */
const SHARED_ESCAPES = new Set([...'dDwWsSbBntrfv0123456789pPkcxu']);
const SHARED_CLASS_ESCAPES = new Set([...'dDwWsSntrfvb0pPcxu']);
const UNSUPPORTED_ESCAPES: Readonly<Record<string, string>> = {
  G: '\\G (match start anchor)',
  K: '\\K (keep)',
  X: '\\X (extended grapheme cluster)',
  g: '\\g (subexpression call)',
  y: '\\y (text segment boundary)',
  Y: '\\Y (text segment boundary)',
};

function unsupported(what: string): RegexTranslationError {
  return new RegexTranslationError(`${what} is not supported (wsbit runs regexes with JavaScript, not Onigmo)`);
}

class Translator {
  private out = '';
  private i = 0;
  private lastWasQuantifier = false;

  constructor(
    private readonly body: string,
    readonly options: Options,
  ) {}

  run(): string {
    const { body } = this;
    this.leadingOptions();
    while (this.i < body.length) {
      const c = body[this.i] ?? '';
      let quantifier = false;
      if (c === '\\') this.escape();
      else if (c === '[') this.charClass();
      else if (c === '(') this.group();
      else if (c === '.') this.emit(this.options.dotAll ? '[\\s\\S]' : '[^\\n]', 1);
      else if (c === ']' || c === '}') this.emit(`\\${c}`, 1);
      else if (c === '{') quantifier = this.brace();
      else if (c === '*' || c === '+' || c === '?') {
        if (this.lastWasQuantifier && c === '+') throw unsupported(`the possessive quantifier '${body[this.i - 1] ?? ''}+'`);
        // `*?` is lazy: a modifier of the quantifier before it, not a new one.
        quantifier = !(this.lastWasQuantifier && c === '?');
        this.emit(c, 1);
      } else if (this.options.extended && /\s/.test(c)) this.i++;
      else if (this.options.extended && c === '#') {
        const newline = body.indexOf('\n', this.i);
        this.i = newline < 0 ? body.length : newline + 1;
        continue;
      } else this.emit(c, 1);
      this.lastWasQuantifier = quantifier;
    }
    return this.out;
  }

  private emit(text: string, consumed: number): void {
    this.out += text;
    this.i += consumed;
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

  private escape(): void {
    const next = this.body[this.i + 1];
    if (next === undefined) throw new RegexTranslationError('the pattern ends with a lone backslash');
    const replacements: Readonly<Record<string, string>> = {
      A: '(?<![\\s\\S])',
      z: '(?![\\s\\S])',
      Z: '(?=\\n?(?![\\s\\S]))',
      h: '[0-9a-fA-F]',
      H: '[^0-9a-fA-F]',
      R: '(?:\\r\\n|[\\n\\v\\f\\r\\u0085\\u2028\\u2029])',
      e: '\\x1b',
      a: '\\x07',
    };
    const replacement = replacements[next];
    if (replacement !== undefined) return this.emit(replacement, 2);
    const refused = UNSUPPORTED_ESCAPES[next];
    if (refused !== undefined) throw unsupported(refused);
    if ((next === 'p' || next === 'P' || next === 'u' || next === 'x') && this.body[this.i + 2] === '{') {
      // \p{Lu}, \u{1F600}, and Onigmo's \x{1F600}, which JavaScript spells \u{…}.
      const close = this.body.indexOf('}', this.i);
      if (close < 0) throw new RegexTranslationError(`\\${next}{… is not closed`);
      return this.emit(`\\${next === 'x' ? 'u' : next}${this.body.slice(this.i + 2, close + 1)}`, close + 1 - this.i);
    }
    if (SHARED_ESCAPES.has(next) || SYNTAX_CHARS.has(next)) return this.emit(`\\${next}`, 2);
    // Ruby reads an unknown escape as the character itself.
    this.emit(next, 2);
  }

  private charClass(): void {
    const { body } = this;
    let out = '[';
    let p = this.i + 1;
    if (body[p] === '^') {
      out += '^';
      p++;
    }
    if (body[p] === ']') {
      out += '\\]'; // a `]` first in a class is literal in Ruby
      p++;
    }
    for (;;) {
      const c = body[p];
      if (c === undefined) throw new RegexTranslationError("a character class '[' is not closed");
      if (c === ']') break;
      if (c === '\\') {
        const next = body[p + 1];
        if (next === undefined) throw new RegexTranslationError('the pattern ends with a lone backslash');
        if (next === 'h') out += '0-9a-fA-F';
        else if (next === 'e') out += '\\x1b';
        else if (next === 'a') out += '\\x07';
        else if (next === 'H' || next === 'R' || next === 'A' || next === 'z' || next === 'Z') throw unsupported(`\\${next} inside a character class`);
        else if (SHARED_CLASS_ESCAPES.has(next) || SYNTAX_CHARS.has(next) || next === '-') out += `\\${next}`;
        else out += next;
        p += 2;
        continue;
      }
      if (c === '[') {
        const posix = /^\[:(\^?)([a-z]+):\]/.exec(body.slice(p));
        const name = posix?.[2] ?? '';
        const range = Object.hasOwn(POSIX_CLASSES, name) ? POSIX_CLASSES[name] : undefined;
        if (posix === null || range === undefined) throw unsupported('a nested character class');
        if (posix[1] === '^') throw unsupported(`the negated POSIX class [:^${name}:]`);
        out += range;
        p += posix[0].length;
        continue;
      }
      if (c === '&' && body[p + 1] === '&') throw unsupported("a character class intersection '&&'");
      out += c;
      p++;
    }
    this.out += `${out}]`;
    this.i = p + 1;
  }

  private group(): void {
    const { body } = this;
    if (body[this.i + 1] !== '?') return this.emit('(', 1);
    const kind = body[this.i + 2];
    if (kind === ':' || kind === '=' || kind === '!') return this.emit(`(?${kind}`, 3);
    if (kind === '<') {
      const after = body[this.i + 3];
      // Lookbehind, or a named group whose name and `>` the main loop copies.
      return after === '=' || after === '!' ? this.emit(`(?<${after}`, 4) : this.emit('(?<', 3);
    }
    if (kind === "'") {
      const close = body.indexOf("'", this.i + 3);
      if (close < 0) throw new RegexTranslationError("a group name (?'… is not closed");
      return this.emit(`(?<${body.slice(this.i + 3, close)}>`, close + 1 - this.i);
    }
    if (kind === '#') {
      const close = body.indexOf(')', this.i);
      if (close < 0) throw new RegexTranslationError('a comment (?#… is not closed');
      this.i = close + 1;
      return;
    }
    if (kind === '>') throw unsupported('an atomic group (?>…)');
    throw unsupported(`the group (?${kind ?? ''}…) (inline options are supported only at the start, as (?i))`);
  }

  /** A `{n}`, `{n,}`, `{n,m}` or Ruby's `{,m}` quantifier, or else a literal `{`. */
  private brace(): boolean {
    const match = /^\{(\d*),?(\d*)\}/.exec(this.body.slice(this.i));
    const text = match?.[0] ?? '';
    if (match === null || (match[1] === '' && (match[2] === '' || !text.includes(',')))) {
      this.emit('\\{', 1);
      return false;
    }
    this.emit(match[1] === '' ? `{0${text.slice(1)}` : text, text.length);
    return true;
  }
}

/**
 * Compiles an Onigmo (Ruby syntax) pattern as Fluent Bit would read it. Throws `RegexTranslationError`
 * for constructs JavaScript cannot express and for patterns neither engine accepts.
 */
export function compileOnigmo(pattern: string): RegExp {
  const { body, options } = unwrap(pattern);
  const translator = new Translator(body, options);
  const source = translator.run();
  const flags = `m${translator.options.ignoreCase ? 'i' : ''}`;
  try {
    // `u` matches code points, as Onigmo does on UTF-8, and enables \p{…}.
    return new RegExp(source, `${flags}u`);
  } catch {
    try {
      return new RegExp(source, flags);
    } catch (error) {
      throw new RegexTranslationError((error as Error).message.replace(/^Invalid regular expression: /, ''));
    }
  }
}
