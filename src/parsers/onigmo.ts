/**
 * Fluent Bit compiles parser regexes with Onigmo in Ruby syntax (`flb_regex.c`: `ONIG_SYNTAX_RUBY`,
 * a `/.../` wrapper stripped). Most of that syntax means the same in JavaScript; this translates the
 * parts that do not, and refuses the few it cannot express, so a parser never silently matches
 * something else:
 *
 * - `^` and `$` are line anchors in Ruby: the JS regex gets the `m` flag.
 * - `\A`, `\z`, `\Z` (string anchors) and `\h`, `\H` (hex digit) have no JS escape: spelled out.
 * - `(?>...)` atomic groups and possessive quantifiers (`a*+`, `a++`, `a?+`, `a{2,}+`) become
 *   `(?=(?<n>...))\k<n>`: a lookahead never backtracks into, which is exactly atomic.
 * - With named groups present, Ruby does not capture plain `(...)` groups, so they become `(?:...)`.
 * - Group names are renamed `g0, g1, ...` internally, so Onigmo names JS rejects (`1st`) and
 *   repeated names (`(?<a>x)|(?<a>y)`) both work; `names` maps them back.
 * - POSIX brackets `[[:alpha:]]`, a leading `(?i)`, `(?m)` (Ruby's dot-all) and `(?x)`, and
 *   `(?#comments)` are understood.
 * - Refused: `\G`, `\K`, `\R`, `\X`, `\g<..>` subexpression calls, `\p{..}`, nested classes and
 *   `&&`, and inline option groups in mid-pattern (`(?i:...)`), which Node 20 lacks.
 */

export class RegexTranslationError extends Error {}

export interface TranslatedRegex {
  regex: RegExp;
  /** For each JS group name `gN`, the Onigmo name, in the order the groups appear. */
  names: ReadonlyArray<{ group: string; name: string }>;
}

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alpha: 'a-zA-Z', digit: '0-9', alnum: 'a-zA-Z0-9', upper: 'A-Z', lower: 'a-z', space: '\\s', blank: ' \\t',
  xdigit: '0-9A-Fa-f', word: '\\w', cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e', graph: '\\x21-\\x7e',
  punct: '!-\\/:-@\\[-`{-~',
};

type OpenGroup = { kind: 'plain' | 'named' | 'other' } | { kind: 'atomic'; name: string };

/** Strips the `/.../` wrapper Fluent Bit accepts (flb_regex.c: `str_to_regex`). */
function unwrap(source: string): string {
  return source.length >= 2 && source.startsWith('/') && source.endsWith('/') ? source.slice(1, -1) : source;
}

export function translateOnigmo(rawSource: string): TranslatedRegex {
  let source = unwrap(rawSource);
  const flags = new Set(['m']);
  let extended = false;
  // Only a leading option group can become a flag: JS has no inline modifiers in Node 20.
  const leading = /^\(\?([imx]+)\)/.exec(source);
  if (leading !== null) {
    for (const option of leading[1] as string) {
      if (option === 'i') flags.add('i');
      else if (option === 'm') flags.add('s');
      else extended = true;
    }
    source = source.slice(leading[0].length);
  }

  const hasNamedGroups = /\(\?(<[A-Za-z_]\w*>|'[A-Za-z_]\w*')/.test(source) || /\(\?<\d/.test(source);
  const names: Array<{ group: string; name: string }> = [];
  const stack: OpenGroup[] = [];
  let out = '';
  let lastAtomStart = -1;
  let helper = 0;
  let i = 0;

  const fail = (what: string): never => {
    throw new RegexTranslationError(`${what} (at offset ${i} of /${rawSource}/) is not supported by wsbit's regex engine`);
  };
  const atomicName = (): string => `a${helper++}`;

  while (i < source.length) {
    const c = source[i] as string;

    if (extended && /\s/.test(c)) {
      i++;
      continue;
    }
    if (extended && c === '#') {
      while (i < source.length && source[i] !== '\n') i++;
      continue;
    }

    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined) fail('a trailing backslash');
      lastAtomStart = out.length;
      switch (next) {
        case 'A': out += '(?<![\\s\\S])'; break;
        case 'z': out += '(?![\\s\\S])'; break;
        case 'Z': out += '(?=\\n?(?![\\s\\S]))'; break;
        case 'h': out += '[0-9a-fA-F]'; break;
        case 'H': out += '[^0-9a-fA-F]'; break;
        case 'G': case 'K': case 'R': case 'X': case 'g': case 'p': case 'P':
          fail(`the escape \\${next}`);
          break;
        case 'k': {
          const match = /^\\k<([^>]+)>/.exec(source.slice(i));
          if (match === null) fail('a \\k back-reference without <name>');
          const name = (match as RegExpExecArray)[1] as string;
          const group = names.find((entry) => entry.name === name);
          if (group === undefined) fail(`a back-reference to an unknown group <${name}>`);
          out += `\\k<${(group as { group: string }).group}>`;
          i += (match as RegExpExecArray)[0].length;
          continue;
        }
        default:
          if (/[1-9]/.test(next as string) && hasNamedGroups) fail('a numbered back-reference next to named groups');
          out += `\\${next}`;
      }
      i += 2;
      continue;
    }

    if (c === '[') {
      lastAtomStart = out.length;
      i = translateClass(source, i, (text) => (out += text), fail);
      continue;
    }

    if (c === '(') {
      if (source.startsWith('(?#', i)) {
        const close = source.indexOf(')', i);
        if (close < 0) fail('an unterminated comment group');
        i = close + 1;
        continue;
      }
      const named = /^\(\?(?:<([A-Za-z_0-9]\w*)>|'([A-Za-z_0-9]\w*)')/.exec(source.slice(i));
      lastAtomStart = out.length;
      if (named !== null) {
        const group = `g${names.length}`;
        names.push({ group, name: (named[1] ?? named[2]) as string });
        out += `(?<${group}>`;
        stack.push({ kind: 'named' });
        i += named[0].length;
        continue;
      }
      if (source.startsWith('(?>', i)) {
        const name = atomicName();
        out += `(?=(?<${name}>`;
        stack.push({ kind: 'atomic', name });
        i += 3;
        continue;
      }
      const special = /^\(\?(?::|=|!|<=|<!)/.exec(source.slice(i));
      if (special !== null) {
        out += special[0];
        stack.push({ kind: 'other' });
        i += special[0].length;
        continue;
      }
      if (source[i + 1] === '?') fail(`the group syntax '${source.slice(i, i + 4)}'`);
      out += hasNamedGroups ? '(?:' : '(';
      stack.push({ kind: hasNamedGroups ? 'other' : 'plain' });
      i++;
      continue;
    }

    if (c === ')') {
      const open = stack.pop();
      if (open === undefined) fail('an unmatched )');
      // The atom a quantifier applies to is the whole group: find where it was opened.
      const groupStart = findGroupStart(out);
      if (open !== undefined && open.kind === 'atomic') out += `))\\k<${open.name}>`;
      else out += ')';
      lastAtomStart = groupStart;
      i++;
      continue;
    }

    const quantifier = /^(?:[*+?]|\{\d*,?\d*\})/.exec(source.slice(i));
    if (quantifier !== null) {
      const isBrace = quantifier[0].startsWith('{');
      if (isBrace && !/^\{\d+(,\d*)?\}$|^\{,\d+\}$/.test(quantifier[0])) {
        // Not a valid interval: Onigmo and JS both read the brace as a literal.
        out += c;
        lastAtomStart = out.length - 1;
        i++;
        continue;
      }
      let text = quantifier[0];
      // Onigmo's {,n} means {0,n}; JS would read it as a literal.
      if (text.startsWith('{,')) text = `{0${text.slice(1)}`;
      i += quantifier[0].length;
      if (source[i] === '+') {
        // Possessive: never give back what the quantified atom matched.
        if (lastAtomStart < 0) fail('a quantifier with nothing to repeat');
        const name = atomicName();
        out = `${out.slice(0, lastAtomStart)}(?=(?<${name}>${out.slice(lastAtomStart)}${text}))\\k<${name}>`;
        i++;
      } else {
        out += text;
        if (source[i] === '?') {
          out += '?';
          i++;
        }
      }
      continue;
    }

    lastAtomStart = out.length;
    // A bare ']' is a literal in both; escaping it keeps findGroupStart's view of classes simple.
    out += c === '/' ? '\\/' : c === ']' ? '\\]' : c;
    i++;
  }
  if (stack.length > 0) fail('an unclosed (');

  let regex: RegExp;
  try {
    regex = new RegExp(out, [...flags].join(''));
  } catch (error) {
    throw new RegexTranslationError(`invalid regular expression /${rawSource}/: ${(error as Error).message}`);
  }
  return { regex, names };
}

/**
 * The output offset of the `(` that the `)` about to be written closes: scans back over the output,
 * skipping escapes and classes (which the translation always writes in balanced form).
 */
function findGroupStart(out: string): number {
  let depth = 0;
  for (let i = out.length - 1; i >= 0; i--) {
    const c = out[i];
    if (escapedAt(out, i)) continue;
    if (c === ']') {
      // Skip back over a class: the translation never writes an unescaped ']' inside one.
      let j = i - 1;
      while (j >= 0 && !(out[j] === '[' && !escapedAt(out, j))) j--;
      i = j;
      continue;
    }
    if (c === ')') depth++;
    else if (c === '(') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return 0;
}

function escapedAt(text: string, index: number): boolean {
  let backslashes = 0;
  for (let j = index - 1; j >= 0 && text[j] === '\\'; j--) backslashes++;
  return backslashes % 2 === 1;
}

/** Translates the class starting at `source[start] === '['`; returns the offset after its `]`. */
function translateClass(source: string, start: number, emit: (text: string) => void, fail: (what: string) => never): number {
  let i = start + 1;
  let text = '[';
  if (source[i] === '^') {
    text += '^';
    i++;
  }
  // A ']' first in the class is a literal in Onigmo as in POSIX; JS needs it escaped.
  if (source[i] === ']') {
    text += '\\]';
    i++;
  }
  while (i < source.length) {
    const c = source[i] as string;
    if (c === ']') {
      emit(`${text}]`);
      return i + 1;
    }
    if (c === '\\') {
      const next = source[i + 1];
      if (next === undefined) fail('a trailing backslash in a class');
      if (next === 'h') text += '0-9a-fA-F';
      else if (next === 'p' || next === 'P' || next === 'H') fail(`the escape \\${next as string} inside a class`);
      else text += `\\${next as string}`;
      i += 2;
      continue;
    }
    if (c === '[') {
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(source.slice(i));
      if (posix === null) fail('a nested character class');
      const [whole, negated, name] = posix as RegExpExecArray;
      const range = POSIX_CLASSES[name as string];
      if (range === undefined || negated === '^') fail(`the POSIX class [:${negated as string}${name as string}:]`);
      text += range as string;
      i += (whole as string).length;
      continue;
    }
    if (c === '&' && source[i + 1] === '&') fail('class intersection (&&)');
    text += c;
    i++;
  }
  return fail('an unterminated character class');
}
