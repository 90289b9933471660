/**
 * The quoted-word syntaxes of Fluent Bit's configuration values, in one place: every key whose value
 * is several words (filter rules, `header`, multiline `rule`) splits it here, the way the Fluent Bit
 * function its plugin calls would.
 */

/**
 * `flb_utils_split_quoted(value, ' ', maxSplit)`: words separated by spaces, a word may be quoted with
 * `"` or `'` (inside, `\"`, `\'` and `\\` are escapes), and after `maxSplit` words the rest of the
 * line is one more entry, as written. Null for an unterminated quote.
 */
export function splitQuoted(raw: string, maxSplit: number): string[] | null {
  const words: string[] = [];
  let i = 0;
  while (i < raw.length) {
    while (raw[i] === ' ') i++;
    if (i >= raw.length) break;
    const quote = raw[i];
    if (quote === '"' || quote === "'") {
      let word = '';
      let p = i + 1;
      for (;;) {
        const c = raw[p];
        if (c === undefined) return null;
        if (c === quote) break;
        if (c === '\\' && (raw[p + 1] === quote || raw[p + 1] === '\\')) {
          word += raw[p + 1];
          p += 2;
          continue;
        }
        word += c;
        p++;
      }
      words.push(word);
      i = p; // at the closing quote
    } else {
      const space = raw.indexOf(' ', i);
      const end = space < 0 ? raw.length : space;
      words.push(raw.slice(i, end));
      i = end;
    }
    // Fluent Bit steps over one character (the separator, or the closing quote), then takes
    // everything left as the last entry once it has maxSplit words.
    i++;
    if (maxSplit > 0 && words.length >= maxSplit && i < raw.length) {
      words.push(raw.slice(i));
      break;
    }
  }
  return words;
}

/**
 * `flb_slist_split_tokens(list, value, maxSplit)`: words separated by spaces; a word may be double
 * quoted, a `"` after a backslash not closing it, and `\"` inside a closed quote is unescaped (an
 * unclosed quote takes the rest of the line as written). After `maxSplit` words the rest of the line,
 * leading spaces skipped, is one more word. `separators: 'blanks'` also splits at tabs and other
 * white space, which wsbit allows between the words of a multiline `rule` (column alignment).
 */
export function splitTokens(raw: string, maxSplit = 0, separators: 'spaces' | 'blanks' = 'spaces'): string[] {
  const isSeparator = separators === 'spaces' ? (c: string | undefined) => c === ' ' : (c: string | undefined) => c !== undefined && /\s/.test(c);
  const words: string[] = [];
  let p = 0;
  for (;;) {
    while (isSeparator(raw[p])) p++;
    if (p >= raw.length) break;
    if (maxSplit > 0 && words.length >= maxSplit) {
      words.push(raw.slice(p));
      break;
    }
    if (raw[p] === '"') {
      const start = ++p;
      while (p < raw.length && (raw[p] !== '"' || raw[p - 1] === '\\')) p++;
      if (p >= raw.length) {
        words.push(raw.slice(start));
        break;
      }
      words.push(raw.slice(start, p).replace(/\\"/g, '"'));
      p++; // past the closing quote
    } else {
      const start = p;
      while (p < raw.length && !isSeparator(raw[p])) p++;
      words.push(raw.slice(start, p));
    }
  }
  return words;
}

/**
 * `flb_utils_split(value, ' ', 1)` as grep uses it: the first word, then the rest of the line. Fluent
 * Bit keeps spaces at the start of the rest; wsbit drops them, since a regex that starts with spaces
 * is almost always column alignment in the config file. Null when there is no second part.
 */
export function splitFirstWord(raw: string): [string, string] | null {
  const text = raw.replace(/^ +/, '');
  const space = text.indexOf(' ');
  if (space <= 0) return null;
  const rest = text.slice(space + 1).replace(/^ +/, '');
  return rest === '' ? null : [text.slice(0, space), rest];
}

/**
 * `Record KEY VALUE` (record_modifier, a Fluent Bit `slist_2` key): `flb_slist_split_tokens(value, 2)`
 * must give exactly two words, so a value of several words must be double-quoted (`note "two words"`);
 * `k a b c` gives three and Fluent Bit refuses the rule. Null when it is not two words.
 */
export function splitKeyValue(raw: string): [string, string] | null {
  const words = splitTokens(raw, 2);
  return words.length === 2 ? [words[0] as string, words[1] as string] : null;
}
