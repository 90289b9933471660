/**
 * How deeply a record may nest maps and arrays, counting the record's body map as level 1, so
 * `{"a":{"b":[1]}}` has depth 3. One limit for every edge: the JSON reader refuses deeper text, inputs
 * refuse deeper msgpack records before they acknowledge them, and the encoders (which recurse) leave
 * out any deeper record that still reaches an output, instead of failing its chunk.
 *
 * Why 64: Fluent Bit 5.1.1's tcp input packs a JSON record 63 levels deep and silently drops one 64
 * levels deep (measured: `test/codec/fixtures/nesting/`), so a peer that works with Fluent Bit works
 * here; real logs nest a handful of levels; and 64 recursive calls are nothing to the stack.
 */
export const MAX_NESTING_DEPTH = 64;

/**
 * A backstop for the encoders that recurse: records are checked against MAX_NESTING_DEPTH before they
 * are encoded (forEachDeliverableRecord), and the JSON encoder writes metadata two levels down
 * (`__internal__`, `log_metadata`), so nothing that passed the check comes near this.
 */
export const MAX_PRINT_DEPTH = MAX_NESTING_DEPTH + 2;
