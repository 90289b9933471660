/**
 * Regex state rules (`src/multiline/flb_ml_rule.c`): each rule names the states it applies in, a regex,
 * and the state it leads to. A group starts at a line matching a `start_state` rule and goes on while
 * each next line matches one of the rules reachable from the last matched one.
 */
import { RegexTranslationError, translateOnigmo } from '../regex/onigmo.js';
import type { MultilineRule } from './types.js';

export class MultilineRuleError extends Error {}

export interface RawRule {
  /** Comma-separated, as written: `"start_state, java_start_exception"`. */
  from: string;
  /** Onigmo syntax, usually inside slashes: `"/^\s+at /"`. */
  regex: string;
  to: string | null;
}

/** Compiles and links the rules of one parser, refusing what Fluent Bit refuses. */
export function compileRules(parserName: string, raw: readonly RawRule[]): MultilineRule[] {
  const rules: Array<MultilineRule & { next: MultilineRule[] }> = [];
  raw.forEach((rule, index) => {
    const fromStates = rule.from.split(',').map((state) => state.trim()).filter((state) => state !== '');
    if (fromStates.length === 0) throw new MultilineRuleError(`[multiline parser: ${parserName}] rule #${index + 1} has no 'from_states'`);
    const startState = fromStates.includes('start_state');
    if (index === 0 && !startState) {
      throw new MultilineRuleError(`[multiline parser: ${parserName}] the first rule must apply in 'start_state', not '${rule.from}'`);
    }
    let regex: RegExp;
    try {
      regex = translateOnigmo(rule.regex).regex;
    } catch (error) {
      if (error instanceof RegexTranslationError) throw new MultilineRuleError(`[multiline parser: ${parserName}] rule #${index + 1} regex ${rule.regex}: ${error.message}`);
      throw error;
    }
    rules.push({ fromStates, regex, toState: rule.to, startState, next: [] });
  });
  for (const rule of rules) {
    if (rule.toState === null) continue;
    const next = rules.filter((candidate) => candidate.fromStates.includes(rule.toState as string));
    // flb_ml_rule_init: a to_state no rule applies in is an error ("to_state='%s' is not registered").
    if (next.length === 0) throw new MultilineRuleError(`[multiline parser: ${parserName}] to_state '${rule.toState}' is not the from-state of any rule`);
    rule.next.push(...next);
  }
  return rules;
}
