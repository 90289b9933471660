import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { decode } from '@msgpack/msgpack';
import { ParserRegistry } from '../../src/pipeline/parser-registry.js';
import { loadParsersFile } from '../../src/app/config-files.js';
import type { Parser } from '../../src/parsers/types.js';
import { tempDir } from '../helpers/temp.js';

const shipped = new ParserRegistry();
const shippedWarnings = loadParsersFile('conf/parsers.conf', shipped);

function parse(parser: Parser, line: string): { time: { sec: number; nsec: number } | null; body: unknown; warnings: string[] } {
  const warnings: string[] = [];
  const outcome = parser.parse(Buffer.from(line, 'utf8'), (message) => warnings.push(message));
  if (!outcome.ok) throw new Error(`parser ${parser.name} refused ${JSON.stringify(line)}: ${outcome.reason}`);
  return { time: outcome.time, body: decode(outcome.body, { useBigInt64: true }), warnings };
}

function parserFrom(text: string, name: string): Parser {
  const dir = tempDir('wsbit-parsers-');
  const file = path.join(dir, 'parsers.conf');
  fs.writeFileSync(file, text);
  const registry = new ParserRegistry();
  loadParsersFile(file, registry);
  const parser = registry.get(name);
  assert.ok(parser, `parser ${name}`);
  return parser;
}

const utc = (iso: string): number => Date.parse(iso) / 1000;

test('conf/parsers.conf loads cleanly and has the common parsers', () => {
  assert.deepEqual(shippedWarnings, []);
  for (const name of ['json', 'apache', 'apache2', 'apache_error', 'nginx', 'syslog-rfc3164', 'syslog-rfc3164-local', 'syslog-rfc5424', 'docker', 'cri', 'mongodb', 'logfmt', 'ltsv']) {
    assert.ok(shipped.get(name), name);
  }
});

/** Real log lines, and what Fluent Bit makes of them with its own parsers.conf. */
const samples: Array<{ parser: string; line: string; time: number | null; nsec?: number; body: Record<string, unknown> }> = [
  {
    parser: 'apache',
    line: '192.168.2.20 - - [28/Jul/2006:10:27:10 -0300] "GET /cgi-bin/try/ HTTP/1.0" 200 3395',
    time: utc('2006-07-28T13:27:10Z'),
    body: { host: '192.168.2.20', user: '-', method: 'GET', path: '/cgi-bin/try/', code: '200', size: '3395' },
  },
  {
    parser: 'apache',
    line: '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.1" 304 - "http://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"',
    time: utc('2000-10-10T20:55:36Z'),
    body: { host: '127.0.0.1', user: '-', method: 'GET', path: '/index.html', code: '304', size: '-', referer: 'http://example.com/', agent: 'Mozilla/5.0 (X11; Linux x86_64)' },
  },
  {
    parser: 'apache2',
    line: '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    time: utc('2000-10-10T20:55:36Z'),
    body: { host: '127.0.0.1', user: 'frank', method: 'GET', path: '/apache_pb.gif', code: '200', size: '2326', referer: 'http://www.example.com/start.html', agent: 'Mozilla/4.08 [en] (Win98; I ;Nav)' },
  },
  {
    parser: 'apache_error',
    line: '[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied by server configuration: /export/home/live/ap/htdocs/test',
    time: null,
    body: { time: 'Oct 11 14:32:52 2000', level: 'error', client: '127.0.0.1', message: 'client denied by server configuration: /export/home/live/ap/htdocs/test' },
  },
  {
    parser: 'nginx',
    line: '172.17.0.1 - - [13/Jul/2023:08:21:04 +0000] "GET /favicon.ico HTTP/1.1" 404 555 "http://localhost:8080/" "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"',
    time: utc('2023-07-13T08:21:04Z'),
    body: {
      remote: '172.17.0.1', host: '-', user: '-', method: 'GET', path: '/favicon.ico', code: '404', size: '555',
      referer: 'http://localhost:8080/', agent: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0',
    },
  },
  {
    parser: 'syslog-rfc5424',
    line: '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...',
    time: utc('2003-10-11T22:14:15Z'),
    nsec: 3_000_000,
    body: {
      pri: '165', time: '2003-10-11T22:14:15.003Z', host: 'mymachine.example.com', ident: 'evntslog', pid: '-', msgid: 'ID47',
      extradata: '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]', message: 'An application event log entry...',
    },
  },
  {
    parser: 'syslog-rfc5424',
    line: '<34>1 2024-03-01T12:00:00.5+02:00 host app 1234 - - started',
    time: utc('2024-03-01T10:00:00Z'),
    nsec: 500_000_000,
    body: { pri: '34', time: '2024-03-01T12:00:00.5+02:00', host: 'host', ident: 'app', pid: '1234', msgid: '-', extradata: '-', message: 'started' },
  },
  {
    parser: 'docker',
    line: '{"log":"GET / 200\\n","stream":"stdout","time":"2019-01-11T14:02:42.152381209Z"}',
    time: utc('2019-01-11T14:02:42Z'),
    nsec: 152_381_209,
    body: { log: 'GET / 200\n', stream: 'stdout', time: '2019-01-11T14:02:42.152381209Z' },
  },
  {
    parser: 'json',
    line: '{"key":"value","time":"28/Jul/2006:10:27:10 -0300","n":18446744073709551615,"f":1.5}',
    time: utc('2006-07-28T13:27:10Z'),
    body: { key: 'value', n: 18446744073709551615n, f: 1.5 },
  },
  {
    parser: 'json',
    line: '{"no":"time here"}',
    time: null,
    body: { no: 'time here' },
  },
  {
    parser: 'cri',
    line: '2019-05-07T18:57:50.904275087+00:00 stdout F hello from a container',
    time: utc('2019-05-07T18:57:50Z'),
    nsec: 904_275_087,
    body: { stream: 'stdout', logtag: 'F', message: 'hello from a container' },
  },
  {
    parser: 'mongodb',
    line: '2014-11-03T18:28:32.450-0500 I NETWORK [initandlisten] waiting for connections on port 27017',
    // The format has no %z, so the offset in the text is not used (as in Fluent Bit).
    time: utc('2014-11-03T18:28:32Z'),
    nsec: 450_000_000,
    body: { time: '2014-11-03T18:28:32.450-0500', severity: 'I', component: 'NETWORK', context: 'initandlisten', message: 'waiting for connections on port', ms: '27017' },
  },
  {
    parser: 'docker-daemon',
    line: 'time="2019-01-11T14:02:42.152381209Z" level=info msg="Loading containers: start."',
    time: utc('2019-01-11T14:02:42Z'),
    nsec: 152_381_209,
    body: { time: '2019-01-11T14:02:42.152381209Z', level: 'info', msg: 'Loading containers: start.' },
  },
];

for (const sample of samples) {
  test(`${sample.parser}: ${sample.line.slice(0, 60)}`, () => {
    const parser = shipped.get(sample.parser);
    assert.ok(parser);
    const result = parse(parser, sample.line);
    assert.deepEqual(result.body, sample.body);
    assert.deepEqual(result.time, sample.time === null ? null : { sec: sample.time, nsec: sample.nsec ?? 0 });
    assert.deepEqual(result.warnings, []);
  });
}

test('syslog-rfc3164: the year-less time gets the current year, as in Fluent Bit', () => {
  const parser = shipped.get('syslog-rfc3164');
  assert.ok(parser);
  const result = parse(parser, "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8");
  assert.deepEqual(result.body, { pri: '34', time: 'Oct 11 22:14:15', host: 'mymachine', ident: 'su', pid: '230', message: "'su root' failed for lonvick on /dev/pts/8" });
  assert.equal(result.time?.sec, Date.UTC(new Date().getUTCFullYear(), 9, 11, 22, 14, 15) / 1000);
  const local = shipped.get('syslog-rfc3164-local');
  assert.ok(local);
  assert.deepEqual(parse(local, '<13>Feb  5 07:01:02 CRON[42]: job done').body, { pri: '13', time: 'Feb  5 07:01:02', ident: 'CRON', pid: '42', message: 'job done' });
});

test('lines a regex parser does not match are refused with a reason', () => {
  const parser = shipped.get('apache');
  assert.ok(parser);
  const outcome = parser.parse(Buffer.from('definitely not an access log'));
  assert.equal(outcome.ok, false);
  assert.match(outcome.ok ? '' : outcome.reason, /does not match the regex of parser 'apache'/);
  const json = shipped.get('json');
  assert.ok(json);
  for (const line of ['[1,2]', '{"a":1} {"b":2}', '{"a":']) assert.equal(json.parse(Buffer.from(line)).ok, false, line);
});

test('time: a value that does not fit Time_Format: json keeps the record and time key, regex drops the field, both warn', () => {
  const json = shipped.get('json');
  const apache = parserFrom('[PARSER]\n    Name t\n    Format regex\n    Regex ^(?<time>\\S+) (?<msg>.*)$\n    Time_Format %Y-%m-%d\n', 't');
  assert.ok(json);
  const a = parse(json, '{"time":"yesterday","x":1}');
  assert.deepEqual([a.time, a.body], [null, { time: 'yesterday', x: 1 }]);
  assert.match(a.warnings[0] ?? '', /\[parser:json\] invalid time format %d\/%b\/%Y:%H:%M:%S %z for 'yesterday'/);
  const b = parse(apache, 'soon hello');
  assert.deepEqual([b.time, b.body], [null, { msg: 'hello' }]);
  assert.equal(b.warnings.length, 1);
});

test('Time_Keep, Time_Offset, Time_System_Timezone off, %s, %j, %p and named zones', () => {
  const cases: Array<[string, string, number]> = [
    ['Time_Format %Y-%m-%d %H:%M:%S\n    Time_Offset +0900', '2024-01-01 09:00:00', utc('2024-01-01T00:00:00Z')],
    ['Time_Format %Y-%m-%d %H:%M:%S\n    Time_Offset -07:00', '2024-01-01 00:00:00', utc('2024-01-01T07:00:00Z')],
    ['Time_Format %s', '1700000000', 1_700_000_000],
    ['Time_Format %Y %j %T', '2024 060 01:02:03', utc('2024-02-29T01:02:03Z')],
    ['Time_Format %m/%d/%y %I:%M:%S %p', '03/04/24 01:02:03 PM', utc('2024-03-04T13:02:03Z')],
    ['Time_Format %a, %d %b %Y %H:%M:%S %Z', 'Tue, 15 Nov 1994 08:12:31 GMT', utc('1994-11-15T08:12:31Z')],
    ['Time_Format %a, %d %b %Y %H:%M:%S %Z', 'Tue, 15 Nov 1994 08:12:31 PST', utc('1994-11-15T16:12:31Z')],
    ['Time_Format %d %B %Y %H:%M:%S.%L%z', '15 November 1994 08:12:31.5-0130', utc('1994-11-15T09:42:31Z')],
  ];
  for (const [keys, value, expected] of cases) {
    const parser = parserFrom(`[PARSER]\n    Name p\n    Format json\n    Time_Key ts\n    ${keys}\n    Time_Keep On\n`, 'p');
    const result = parse(parser, JSON.stringify({ ts: value }));
    assert.equal(result.time?.sec, expected, `${keys} / ${value}`);
    assert.deepEqual(result.body, { ts: value }, 'Time_Keep keeps the key');
  }
});

test('logfmt: quoted values, escapes, bare keys as true; Logfmt_No_Bare_Keys refuses them', () => {
  const logfmt = shipped.get('logfmt');
  assert.ok(logfmt);
  assert.deepEqual(parse(logfmt, 'level=info msg="hello \\"world\\"" empty="" flag path=/a/b n=5').body, {
    level: 'info', msg: 'hello "world"', empty: '', flag: true, path: '/a/b', n: '5',
  });
  const strict = parserFrom('[PARSER]\n    Name s\n    Format logfmt\n    Logfmt_No_Bare_Keys on\n', 's');
  assert.equal(strict.parse(Buffer.from('a=1 bare')).ok, false);
  const timed = parserFrom('[PARSER]\n    Name lt\n    Format logfmt\n    Time_Key ts\n    Time_Format %Y-%m-%dT%H:%M:%S%z\n', 'lt');
  const result = parse(timed, 'ts=2024-01-01T00:00:00Z msg=hi');
  assert.deepEqual([result.time?.sec, result.body], [utc('2024-01-01T00:00:00Z'), { msg: 'hi' }]);
  assert.equal(timed.parse(Buffer.from('ts=garbage msg=hi')).ok, false, 'logfmt refuses a line whose time does not parse');
});

test('ltsv: tab-separated label:value pairs; Types casts values', () => {
  const ltsv = parserFrom('[PARSER]\n    Name l\n    Format ltsv\n    Types status:integer reqtime:float ok:bool id:hex\n', 'l');
  assert.deepEqual(parse(ltsv, 'host:127.0.0.1\tstatus:200\treqtime:0.25\tok:TRUE\tid:ff\tua:curl/8.0').body, {
    host: '127.0.0.1', status: 200, reqtime: 0.25, ok: true, id: 255, ua: 'curl/8.0',
  });
  const typed = parserFrom('[PARSER]\n    Name r\n    Format regex\n    Regex ^(?<n>\\S+) (?<b>\\S+)$\n    Types n:integer b:bool\n', 'r');
  const result = parse(typed, '-12abc maybe');
  assert.deepEqual(result.body, { n: -12, b: 'maybe' });
  assert.match(result.warnings[0] ?? '', /key=b cast error\. save as string\./);
});

test('Onigmo syntax: \\h, \\A, \\z, atomic groups, possessive quantifiers, POSIX classes, (?i), plain groups not captured', () => {
  const cases: Array<[string, string, Record<string, unknown> | null]> = [
    ['^(?<hex>\\h+)\\z', 'deadBEEF', { hex: 'deadBEEF' }],
    ['\\A(?<a>x)', 'x\ny', { a: 'x' }],
    ['(?<w>(?>a+))b', 'aaab', { w: 'aaa' }],
    ['^(?<w>a++)a', 'aaaa', null],
    ['^(?<w>a*+)b$', 'aaab', { w: 'aaa' }],
    ['^(?<d>[[:digit:]]+)-(?<l>[[:alpha:]]+)$', '42-abc', { d: '42', l: 'abc' }],
    ['(?i)^(?<m>get|post) ', 'GET /', { m: 'GET' }],
    ['^(a|b)(?<x>c)$', 'ac', { x: 'c' }],
    ['^(?<first>\\w+) (?<first2>\\k<first>)$', 'yo yo', { first: 'yo', first2: 'yo' }],
    ['^(?<n>\\d{,2})$', '12', { n: '12' }],
    ['^(?<x>a)(?#a comment)b$', 'ab', { x: 'a' }],
  ];
  for (const [regex, line, expected] of cases) {
    const parser = parserFrom(`[PARSER]\n    Name o\n    Format regex\n    Regex ${regex}\n`, 'o');
    const outcome = parser.parse(Buffer.from(line));
    if (expected === null) assert.equal(outcome.ok, false, regex);
    else assert.deepEqual(outcome.ok ? decode(outcome.body) : outcome.reason, expected, regex);
  }
});

test('parsers file errors name the file, the line and the problem', () => {
  const cases: Array<[string, RegExp]> = [
    ['[PARSER]\n    Format json\n', /parsers\.conf:1: \[PARSER\] section has no 'Name'/],
    ['[PARSER]\n    Name x\n    Format yaml\n', /parsers\.conf:3: \[parser:x\] Invalid format yaml/],
    ['[PARSER]\n    Name x\n    Format regex\n', /no parser 'regex' found for 'x'/],
    ['[PARSER]\n    Name x\n    Format regex\n    Regex (?<a>x)\\G\n', /parser 'x': the escape \\G .* is not supported/],
    ['[PARSER]\n    Name x\n    Format regex\n    Regex (?<a>x\n', /parser 'x': an unclosed \(/],
    ['[PARSER]\n    Name x\n    Format json\n    Time_Format %Y %U\n', /unsupported directive '%U'/],
    ['[PARSER]\n    Name x\n    Format json\n    Time_Offset later\n', /invalid Time_Offset 'later'/],
    ['[PARSER]\n    Name x\n    Format json\n[PARSER]\n    Name x\n    Format json\n', /parser named 'x' already exists \(first defined at .*parsers\.conf:1\)/],
  ];
  for (const [text, message] of cases) {
    const dir = tempDir('wsbit-parsers-');
    const file = path.join(dir, 'parsers.conf');
    fs.writeFileSync(file, text);
    assert.throws(() => loadParsersFile(file, new ParserRegistry()), message, text);
  }
  assert.throws(() => loadParsersFile('/nonexistent/parsers.conf', new ParserRegistry()), /parsers file '\/nonexistent\/parsers\.conf' does not exist/);
});

test("Fluent Bit's own parsers file loads: repeated keys keep the first value; Decode_Field_As applies; [MULTILINE_PARSER] registers", () => {
  const dir = tempDir('wsbit-parsers-');
  const file = path.join(dir, 'fluent-bit-parsers.conf');
  fs.writeFileSync(
    file,
    [
      '[PARSER]', '    Name        syslog-rfc3164', '    Format      regex',
      '    Regex       /^\\<(?<pri>[0-9]+)\\>(?<time>[^ ]* {1,2}[^ ]* [^ ]*) (?<host>[^ ]*) (?<message>.*)$/',
      '    Time_Key    time', '    Time_Format %b %d %H:%M:%S', '    Time_Format %Y-%m-%dT%H:%M:%S.%L', '    Time_Keep   On', '',
      '[PARSER]', '    Name         docker', '    Format       json', '    Time_Key     time', '    Time_Format  %Y-%m-%dT%H:%M:%S.%L',
      '    Decode_Field_As   escaped_utf8   log        do_next', '    Decode_Field_As   escaped        log', '',
      '[MULTILINE_PARSER]', '    name  multiline-regex-test', '    type  regex', '    rule  "start_state" "/^\\S/" "cont"', '    rule  "cont" "/^\\s+at/" "cont"', '',
    ].join('\n'),
  );
  const registry = new ParserRegistry();
  const warnings = loadParsersFile(file, registry);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0] ?? '', /'time_format' is repeated; the first value is used/);
  const docker = registry.get('docker');
  assert.ok(docker);
  assert.deepEqual(parse(docker, '{"log":"x\\\\ty \\\\u00e9","time":"2023-06-01T12:00:00.5Z"}').body, { log: 'x\ty \u00e9' });
  assert.equal(registry.requireMultiline('multiline-regex-test', 'tail.0').rules.length, 2);
  const syslog = registry.get('syslog-rfc3164');
  assert.ok(syslog);
  assert.ok(parse(syslog, '<34>Oct 11 22:14:15 mymachine hello').time !== null);
});

test('the registry names the known parsers when asked for an unknown one', () => {
  assert.throws(() => shipped.require('ngnix', 'tail.0'), /tail\.0: parser 'ngnix' is not registered \(known parsers: apache, apache2, .*nginx/);
  assert.throws(() => new ParserRegistry().require('json', 'tcp.0'), /no parsers are loaded: add a Parsers_File/);
});
