import { ConfigError } from '../base/errors.js';

/**
 * Fluent Bit's tag routing (src/flb_router.c:router_match): `Match` is case-sensitive, covers the
 * whole tag, and `*` matches any run of characters (including `.` and nothing). There is no `?` and
 * no character class. `Match_Regex` is anchored at the start of the tag only and must match at least
 * one character; it is tried before the wildcard.
 */
export function wildcardMatches(pattern: string, tag: string): boolean {
  // Iterative glob with backtracking to the last `*`: linear for the patterns people write.
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < tag.length) {
    if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (p < pattern.length && pattern[p] === tag[t]) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

export interface RouteRule {
  match: string | null;
  matchRegex: RegExp | null;
}

export function compileMatchRegex(source: string, instance: string): RegExp {
  try {
    // The sticky flag anchors the match at index 0 without anchoring its end, like onig_match.
    return new RegExp(source, 'y');
  } catch (error) {
    throw new ConfigError(
      'WSBIT_CONFIG_BAD_VALUE',
      `${instance}: invalid value '${source}' for 'match_regex': ${(error as Error).message}`,
      undefined,
      { cause: error },
    );
  }
}

export function routeMatches(rule: RouteRule, tag: string): boolean {
  if (rule.matchRegex !== null) {
    rule.matchRegex.lastIndex = 0;
    const found = rule.matchRegex.exec(tag);
    if (found !== null && found[0].length > 0) return true;
  }
  return rule.match !== null && wildcardMatches(rule.match, tag);
}
