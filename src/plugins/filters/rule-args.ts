/**
 * A config-order stamp for Fluent Bit's filter rules (`Rename a b` before `Set a x`); their words are
 * split by `config/words.ts`.
 */

let sequence = 0;

/**
 * A number that grows with every call. The schema resolver reads a section's entries in file order and
 * parses each as it goes, so a `parse` that stamps its value with this keeps the order across keys
 * (`Rename a b` before `Set a x`), which Fluent Bit's rule filters depend on and which per-key arrays lose.
 */
export function configOrder(): number {
  return sequence++;
}
