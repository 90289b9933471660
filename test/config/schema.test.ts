import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/base/errors.js';
import {
  describeSchema,
  renderSchemaTable,
  resolveConfig,
  splitHeader,
  withDefaults,
  type ConfigEntry,
  type HeaderPair,
  type ParamSpec,
  type ResolvedConfig,
} from '../../src/config/schema.js';
import {
  inputCommonKeys,
  netClientKeys,
  outputCommonKeys,
  parseRetryLimit,
  serviceSchema,
  tlsClientKeys,
  type RetryLimit,
} from '../../src/config/common-keys.js';

const schema = [
  { key: 'uri', type: 'string', default: null, description: 'Path of the WebSocket endpoint.' },
  {
    key: 'format',
    type: 'enum',
    values: ['msgpack', 'json', 'json_lines', 'json_stream', 'gelf'],
    default: 'msgpack',
    description: 'Payload format.',
  },
  {
    key: 'json_date_format',
    type: 'enum',
    values: ['double', 'iso8601', 'epoch', 'epoch_ms'],
    aliases: { epoch_millis: 'epoch_ms', epoch_milliseconds: 'epoch_ms' },
    default: 'double',
    description: 'Date format.',
  },
  { key: 'header', type: 'header', multiple: true, description: 'Extra handshake header.' },
  { key: 'tags', type: 'list', default: 'a, b', description: 'Some list.' },
  { key: 'net.keepalive', type: 'bool', default: true, description: 'Keep connections.' },
  { key: 'net.keepalive_idle_timeout', type: 'time', default: '30s', description: 'Idle timeout.' },
  { key: 'buffer', type: 'size', default: '5M', description: 'Buffer size.' },
  { key: 'port', type: 'int', description: 'Port.' },
  { key: 'ratio', type: 'double', default: 0.5, description: 'Ratio.' },
  ...outputCommonKeys,
] as const satisfies readonly ParamSpec[];

type Config = ResolvedConfig<typeof schema>;

// Compile-time checks of the mapped type: each line fails to build if the type is wrong.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}
expectType<Equal<Config['uri'], string | null>>();
expectType<Equal<Config['format'], 'msgpack' | 'json' | 'json_lines' | 'json_stream' | 'gelf'>>();
expectType<Equal<Config['json_date_format'], 'double' | 'iso8601' | 'epoch' | 'epoch_ms'>>();
expectType<Equal<Config['header'], HeaderPair[]>>();
expectType<Equal<Config['tags'], string[]>>();
expectType<Equal<Config['net.keepalive'], boolean>>();
expectType<Equal<Config['net.keepalive_idle_timeout'], number>>();
expectType<Equal<Config['port'], number | null>>();
expectType<Equal<Config['retry_limit'], RetryLimit>>();
expectType<Equal<Config['storage.total_limit_size'], number | null>>();
expectType<Equal<ResolvedConfig<typeof serviceSchema>['parsers_file'], string[]>>();
expectType<Equal<ResolvedConfig<typeof serviceSchema>['flush'], number>>();
expectType<Equal<ResolvedConfig<typeof serviceSchema>['log_level'], 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace'>>();

const context = { instance: 'websocket.0', kind: 'output' } as const;
const origin = (line: number): { file: string; line: number } => ({ file: '/etc/wsbit/wsbit.conf', line });
const entry = (key: string, value: string, line?: number): ConfigEntry =>
  line === undefined ? { key, value } : { key, value, origin: origin(line) };

function throwsConfig(run: () => unknown, code: string, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

describe('resolveConfig', () => {
  it('fills every default', () => {
    const { config, warnings, explicit } = resolveConfig(schema, [], context);
    assert.deepEqual(warnings, []);
    assert.equal(explicit.size, 0);
    assert.equal(config.uri, null);
    assert.equal(config.format, 'msgpack');
    assert.deepEqual(config.header, []);
    assert.deepEqual(config.tags, ['a', 'b']);
    assert.equal(config['net.keepalive'], true);
    assert.equal(config['net.keepalive_idle_timeout'], 30);
    assert.equal(config.buffer, 5_000_000);
    assert.equal(config.port, null);
    assert.equal(config.ratio, 0.5);
    assert.deepEqual(config.retry_limit, { kind: 'limit', retries: 1 });
    assert.equal(config.workers, 0);
  });

  it('matches keys case-insensitively and enum words case-insensitively', () => {
    const { config, explicit } = resolveConfig(
      schema,
      [entry('FORMAT', 'JSON_Lines'), entry('Net.KeepAlive', 'off'), entry('json_date_format', 'Epoch_Millis', 4)],
      context,
    );
    assert.equal(config.format, 'json_lines');
    assert.equal(config['net.keepalive'], false);
    assert.equal(config.json_date_format, 'epoch_ms');
    assert.deepEqual([...explicit.entries()], [
      ['format', undefined],
      ['net.keepalive', undefined],
      ['json_date_format', origin(4)],
    ]);
  });

  it('skips the plugin name key', () => {
    const { config } = resolveConfig(schema, [entry('Name', 'websocket'), entry('uri', '/ws')], context);
    assert.equal(config.uri, '/ws');
  });

  it('leaves a key with an empty value unset (an unset ${VAR})', () => {
    const { config } = resolveConfig(schema, [entry('format', ''), entry('uri', '')], context);
    assert.equal(config.format, 'msgpack');
    assert.equal(config.uri, null);
  });

  it('rejects an unknown key, listing the allowed keys and a likely one', () => {
    const allowed = schema.map((spec) => spec.key).join(', ');
    throwsConfig(
      () => resolveConfig(schema, [entry('formt', 'json', 12)], context),
      'WSBIT_CONFIG_UNKNOWN_KEY',
      `[config] error in /etc/wsbit/wsbit.conf:12: websocket.0: unknown configuration property 'formt' (did you mean 'format'?). ` +
        `The following properties are allowed: ${allowed}`,
    );
    throwsConfig(
      () => resolveConfig(schema, [entry('Zzz', '1')], context),
      'WSBIT_CONFIG_UNKNOWN_KEY',
      `[config] websocket.0: unknown configuration property 'zzz'. The following properties are allowed: ${allowed}`,
    );
  });

  const badValues: ReadonlyArray<readonly [string, string, string]> = [
    ['format', 'jsonx', 'one of msgpack, json, json_lines, json_stream, gelf'],
    ['json_date_format', 'epoch_s', 'one of double, iso8601, epoch, epoch_ms, epoch_millis, epoch_milliseconds'],
    ['net.keepalive', 'enabled', 'one of true, false, on, off, yes, no'],
    ['port', '80abc', 'an integer'],
    ['ratio', 'half', 'a number'],
    ['buffer', '5X', 'a size such as 512, 64K, 5M or 1G (K = 1000 bytes), or false'],
    ['net.keepalive_idle_timeout', '1.5m', 'a number of seconds, optionally with a unit: 30, 30s, 5m, 1h, 1d'],
    ['header', '"" value', "a header name and its value, e.g. 'X-Api-Key abc123'"],
    [
      'retry_limit',
      '0',
      'a positive number of retries, no_limits, false or off (retry forever), or no_retries (never retry)',
    ],
  ];
  for (const [key, value, expected] of badValues) {
    it(`rejects ${key} ${value}`, () => {
      throwsConfig(
        () => resolveConfig(schema, [entry(key, value, 7)], context),
        'WSBIT_CONFIG_BAD_VALUE',
        `[config] error in /etc/wsbit/wsbit.conf:7: websocket.0: invalid value '${value}' for '${key}': expected ${expected}`,
      );
    });
  }

  it('lets the last of a repeated key win, with a warning', () => {
    const { config, warnings, explicit } = resolveConfig(schema, [entry('match', 'a', 3), entry('Match', 'b', 9)], context);
    assert.equal(config.match, 'b');
    assert.deepEqual(warnings, [
      "websocket.0: property 'match' is already specified with value 'a'. Overwriting with 'b' (/etc/wsbit/wsbit.conf:9)",
    ]);
    assert.deepEqual(explicit.get('match'), origin(9));
  });

  it('collects a multiple key in order', () => {
    const { config, warnings } = resolveConfig(
      schema,
      [entry('header', 'Authorization Bearer abc'), entry('HEADER', 'X-Only'), entry('header', '"X Quoted" a  b')],
      context,
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.header, [
      { name: 'Authorization', value: 'Bearer abc' },
      { name: 'X-Only', value: 'X-Only' },
      { name: 'X Quoted', value: 'a  b' },
    ]);
  });

  it('warns instead of failing for unknown [SERVICE] keys (Fluent Bit ignores them)', () => {
    const { config, warnings } = resolveConfig(
      serviceSchema,
      [entry('Flush', '0.5', 2), entry('Streams_File', 'x.conf', 3), entry('flsh', '1')],
      { instance: 'service', kind: 'service' },
    );
    assert.equal(config.flush, 0.5);
    assert.deepEqual(warnings, [
      "service: unknown configuration property 'streams_file' is ignored (/etc/wsbit/wsbit.conf:3)",
      "service: unknown configuration property 'flsh' is ignored (did you mean 'flush'?)",
    ]);
  });

  it('rejects Flush <= 0', () => {
    throwsConfig(
      () => resolveConfig(serviceSchema, [entry('flush', '0', 2)], { instance: 'service', kind: 'service' }),
      'WSBIT_CONFIG_BAD_VALUE',
      "[config] error in /etc/wsbit/wsbit.conf:2: service: invalid value '0' for 'flush': expected a number of seconds greater than 0, e.g. 1 or 0.5",
    );
  });

  it('withDefaults changes defaults only', () => {
    const changed = withDefaults(schema, { retry_limit: 'no_limits', workers: 2 });
    assert.deepEqual(resolveConfig(changed, [], context).config.retry_limit, { kind: 'unlimited' });
    assert.equal(resolveConfig(changed, [], context).config.workers, 2);
    assert.deepEqual(resolveConfig(schema, [], context).config.retry_limit, { kind: 'limit', retries: 1 });
  });

  it('resolves every shared schema with no entries (their defaults are valid)', () => {
    for (const shared of [inputCommonKeys, outputCommonKeys, netClientKeys, tlsClientKeys, serviceSchema]) {
      assert.doesNotThrow(() => resolveConfig(shared, [], { instance: 'x.0', kind: 'output' }));
    }
    const service = resolveConfig(serviceSchema, [], { instance: 'service', kind: 'service' }).config;
    assert.equal(service.flush, 1);
    assert.equal(service.grace, 5);
    assert.equal(service.log_level, 'info');
    assert.equal(service['storage.backlog.mem_limit'], 100_000_000);
    assert.equal(service['json.escape_unicode'], true);
    const net = resolveConfig(netClientKeys, [], context).config;
    assert.equal(net['net.keepalive_idle_timeout'], 30);
    assert.equal(net['net.connect_timeout'], 10);
    assert.equal(net['net.keepalive_max_recycle'], 2000);
  });

  it('a key spelled as Fluent Bit spells it (Key_Name) matches in any case and resolves in lower case', () => {
    const spelled = [{ key: 'Key_Name', type: 'string', description: 'x' }] as const satisfies readonly ParamSpec[];
    for (const written of ['key_name', 'KEY_NAME', 'Key_Name']) {
      const { config, explicit } = resolveConfig(spelled, [{ key: written, value: 'log' }], context);
      assert.equal(config.key_name, 'log');
      assert.ok(explicit.has('key_name'));
    }
    assert.equal(resolveConfig(spelled, [], context).config.key_name, null);
  });

  it('rejects a schema whose keys repeat in another case, or are not printable ASCII', () => {
    const twice = [
      { key: 'Uri', type: 'string', description: 'x' },
      { key: 'uri', type: 'string', description: 'x' },
    ] as const satisfies readonly ParamSpec[];
    assert.throws(() => resolveConfig(twice, [], context), /must be printable ASCII and unique regardless of case/);
    const spaced = [{ key: 'my key', type: 'string', description: 'x' }] as const satisfies readonly ParamSpec[];
    assert.throws(() => resolveConfig(spaced, [], context), /must be printable ASCII/);
  });
});

describe('Retry_Limit words', () => {
  const cases: ReadonlyArray<readonly [string, RetryLimit | undefined]> = [
    ['no_limits', { kind: 'unlimited' }],
    ['No_Limits', { kind: 'unlimited' }],
    ['false', { kind: 'unlimited' }],
    ['off', { kind: 'unlimited' }],
    ['OFF', { kind: 'unlimited' }],
    ['no_retries', { kind: 'limit', retries: 0 }],
    ['1', { kind: 'limit', retries: 1 }],
    ['10', { kind: 'limit', retries: 10 }],
    ['0', undefined],
    ['-1', undefined],
    ['true', undefined],
    ['unlimited', undefined],
    ['5x', undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${input} → ${JSON.stringify(expected) ?? 'error'}`, () => {
      const parsed = parseRetryLimit(input);
      if (expected === undefined) assert.ok(!('kind' in parsed), `expected a failure, got ${JSON.stringify(parsed)}`);
      else assert.deepEqual(parsed, expected);
    });
  }
});

describe('splitHeader (Fluent Bit SLIST_1)', () => {
  const cases: ReadonlyArray<readonly [string, HeaderPair | undefined]> = [
    ['X-Key value', { name: 'X-Key', value: 'value' }],
    ['X-Key   a b  c', { name: 'X-Key', value: 'a b  c' }],
    ['Authorization Bearer abc.def', { name: 'Authorization', value: 'Bearer abc.def' }],
    ['X-Only', { name: 'X-Only', value: 'X-Only' }],
    ['"X Key" v', { name: 'X Key', value: 'v' }],
    ['"a\\"b" v', { name: 'a"b', value: 'v' }],
    ['"a"b c', { name: 'a', value: 'b c' }],
    // Only the name is unquoted; the value is the rest of the line, verbatim.
    ['X "quoted value"', { name: 'X', value: '"quoted value"' }],
    ['"unterminated v', { name: 'unterminated v', value: 'unterminated v' }],
    ['X-Tab\tvalue', { name: 'X-Tab\tvalue', value: 'X-Tab\tvalue' }],
    ['"" v', undefined],
    ['', undefined],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => {
      assert.deepEqual(splitHeader(input), expected);
    });
  }
});

describe('describeSchema / renderSchemaTable', () => {
  const small = [
    { key: 'format', type: 'enum', values: ['msgpack', 'json'], default: 'msgpack', description: 'Payload format.' },
    { key: 'header', type: 'header', multiple: true, description: 'A header | with a pipe.' },
    { key: 'tls', type: 'bool', default: false, description: 'Use TLS.' },
  ] as const satisfies readonly ParamSpec[];

  it('describes types, defaults and allowed values', () => {
    assert.deepEqual(describeSchema(small), [
      { key: 'format', type: 'enum', default: 'msgpack', description: 'Payload format. One of: msgpack, json.' },
      { key: 'header', type: 'header (multiple)', default: 'none', description: 'A header | with a pipe. May be given more than once.' },
      { key: 'tls', type: 'bool', default: 'off', description: 'Use TLS.' },
    ]);
  });

  it('renders markdown', () => {
    assert.equal(
      renderSchemaTable(describeSchema(small), 'markdown'),
      [
        '| Key | Type | Default | Description |',
        '| --- | --- | --- | --- |',
        '| `format` | enum | `msgpack` | Payload format. One of: msgpack, json. |',
        '| `header` | header (multiple) | _none_ | A header \\| with a pipe. May be given more than once. |',
        '| `tls` | bool | `off` | Use TLS. |',
        '',
      ].join('\n'),
    );
  });

  it('renders aligned text', () => {
    assert.equal(
      renderSchemaTable(describeSchema(small), 'text'),
      [
        'KEY     TYPE               DEFAULT  DESCRIPTION',
        'format  enum               msgpack  Payload format. One of: msgpack, json.',
        'header  header (multiple)  none     A header | with a pipe. May be given more than once.',
        'tls     bool               off      Use TLS.',
        '',
      ].join('\n'),
    );
  });
});
